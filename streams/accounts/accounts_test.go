package accounts

import (
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/subjects"
)

// matches reports whether subject s matches the NATS pattern p.
func matches(p, s string) bool {
	pt, st := strings.Split(p, "."), strings.Split(s, ".")
	for i, tok := range pt {
		switch {
		case tok == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case tok != "*" && tok != st[i]:
			return false
		}
	}
	return len(pt) == len(st)
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if matches(p, s) {
			return true
		}
	}
	return false
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		account string
		kind    Kind
		name    string
		ok      bool
	}{
		{"U_alice", KindUser, "alice", true},
		{"A_web-1", KindAgent, "web-1", true},
		{"E_act-1", KindEnrollment, "act-1", true},
		{"S_ship1", KindShipper, "ship1", true},
		{Service, "", "", false},
		{"G_web-1", "", "", false}, // a gate is nobody's account
		{"U_", "", "", false},
		{"U_a.b", KindUser, "a.b", false},
		{"X_alice", "", "", false},
	} {
		k, n, ok := Parse(tc.account)
		if ok != tc.ok || (ok && (k != tc.kind || n != tc.name)) {
			t.Errorf("Parse(%q) = %q %q %v, want %q %q %v", tc.account, k, n, ok, tc.kind, tc.name, tc.ok)
		}
		if tc.ok && AccountName(tc.kind, tc.name) != tc.account {
			t.Errorf("AccountName(%q, %q) = %q", tc.kind, tc.name, AccountName(tc.kind, tc.name))
		}
	}
}

// Permissions and imports are scoped to the principal: nothing of another's is reachable.
func TestScopedToThePrincipal(t *testing.T) {
	own := subjects.ForSession("web-1", "alice", "alice-abc")
	bobs := subjects.ForSession("web-1", "bob", "bob-abc")
	for _, admin := range []bool{false, true} {
		g := User("alice", admin)
		for _, s := range []string{bobs.In, bobs.Out, bobs.Ctl, own.Rin, bobs.Rin, subjects.API("bob", "WhoAmI"),
			subjects.AgentAPI("web-1", "Register"), subjects.AgentControl("web-1"), subjects.UserInbox("bob") + ".x",
			"tether.audit.decision.StartSession", "$JS.API.INFO", "$KV.tether_users.alice"} {
			if anyMatch(g.Permissions.Publish, s) {
				t.Errorf("User(alice, admin=%v) may publish %s", admin, s)
			}
		}
		for _, s := range []string{bobs.In, bobs.Out, bobs.Ctl, own.Rin, bobs.Rin, subjects.UserInbox("bob") + ".x", "tether.audit.decision.X"} {
			if anyMatch(g.Permissions.Subscribe, s) {
				t.Errorf("User(alice, admin=%v) may subscribe %s", admin, s)
			}
		}
		for _, im := range g.Account.Imports {
			if !im.Stream && strings.Contains(im.Local, "bob") {
				t.Errorf("alice's account imports %s", im.Local)
			}
		}
		if got := anyMatch(g.Permissions.Subscribe, "tether.events.session.started"); got != admin {
			t.Errorf("User(alice, admin=%v) reads events: %v", admin, got)
		}
		for _, s := range []string{own.In, subjects.API("alice", "WhoAmI")} {
			if !anyMatch(g.Permissions.Publish, s) {
				t.Errorf("User(alice) may not publish her own %s", s)
			}
		}
	}
	a := Agent("web-1")
	other := subjects.ForSession("web-2", "alice", "alice-abc")
	for _, s := range []string{other.Out, other.Rin, other.Ctl, own.In, subjects.AgentAPI("web-2", "Heartbeat"), "tether.ok.web-1.alice.alice-abc.out", "tether.from.web-1.alice.alice-abc.out"} {
		if anyMatch(a.Permissions.Publish, s) {
			t.Errorf("Agent(web-1) may publish %s", s)
		}
	}
	for _, s := range []string{other.In, subjects.AgentControl("web-2"), own.Out} {
		if anyMatch(a.Permissions.Subscribe, s) {
			t.Errorf("Agent(web-1) may subscribe %s", s)
		}
	}
	if !anyMatch(a.Permissions.Publish, own.Rin) || anyMatch(a.Permissions.Subscribe, own.Rin) {
		t.Errorf("Agent(web-1): want publish-only on its sessions' %s", own.Rin)
	}
	e := Enrollment("act-1", "UKEY")
	if len(e.Permissions.Publish) != 1 || e.Permissions.Publish[0] != subjects.Enroll("act-1", "UKEY") {
		t.Errorf("Enrollment publishes %v", e.Permissions.Publish)
	}
}

// Every import names something the service account exports (or the agent's gate).
func TestImportsAreExported(t *testing.T) {
	var exports []ServiceExport = ServiceExports()
	exported := func(subject string, stream bool) bool {
		for _, e := range exports {
			if e.Stream == stream && matches(e.Subject, strings.ReplaceAll(subject, "*", "x")) {
				return true
			}
		}
		return false
	}
	gate := Agent("web-1").Account.Gate
	for _, g := range []Grant{User("alice", true), Agent("web-1"), Enrollment("act-1", "UKEY"), Shipper("ship1")} {
		for _, im := range g.Account.Imports {
			if !exported(im.RemoteSubject(), im.Stream) {
				t.Errorf("%s imports %s (stream %v), which the service account does not export", g.Account.Name, im.RemoteSubject(), im.Stream)
			}
		}
	}
	for _, im := range gate.Imports {
		if !exported(im.RemoteSubject(), false) {
			t.Errorf("gate imports %s, which the service account does not export", im.RemoteSubject())
		}
	}
	// Every session mapping turns an ingress subject into one the gate imports.
	for _, m := range SessionMappings("web-1", "alice", "alice-abc") {
		var ingress, onward bool
		for _, im := range gate.Ingress {
			ingress = ingress || matches(im.RemoteSubject(), m.From)
		}
		for _, im := range gate.Imports {
			onward = onward || (matches(im.Local, m.To) && strings.HasPrefix(im.RemoteSubject(), "tether.s."))
		}
		if !ingress || !onward {
			t.Errorf("mapping %s -> %s: reached by the agent %v, imported onward %v", m.From, m.To, ingress, onward)
		}
	}
}

func TestRefusedParts(t *testing.T) {
	agent, orig, ok := RefusedParts("tether.refused.web-1.alice.alice-abc.out")
	if !ok || agent != "web-1" || orig != "tether.s.web-1.alice.alice-abc.out" {
		t.Fatalf("RefusedParts = %q %q %v", agent, orig, ok)
	}
	for _, s := range []string{"tether.refused.", "tether.refused.x", "tether.s.web.a.b.out"} {
		if _, _, ok := RefusedParts(s); ok {
			t.Errorf("RefusedParts(%q) ok", s)
		}
	}
}

// A session's data joins exactly its owner and its agent: the agent's account imports the
// owner's input on that agent, the owner's account the agent's frames for that owner, and
// each is within what the other exports and what the importer's connections may read.
func TestSessionDataJoinsOnePair(t *testing.T) {
	toAgent, toUser := SessionData("web-1", "alice")
	alice, web1 := User("alice", false), Agent("web-1")
	own := subjects.ForSession("web-1", "alice", "alice-abc")
	for _, c := range []struct {
		im       Import
		exporter Grant
		importer Grant
		reaches  string
		not      []string
	}{
		{toAgent, alice, web1, own.In, []string{
			subjects.ForSession("web-2", "alice", "alice-abc").In, subjects.ForSession("web-1", "bob", "bob-abc").In, own.Ctl, own.Out}},
		{toUser, web1, alice, own.Ctl, []string{
			subjects.ForSession("web-2", "alice", "alice-abc").Ctl, subjects.ForSession("web-1", "bob", "bob-abc").Ctl, own.Out, own.Rin}},
	} {
		if !c.im.Stream || c.im.From != c.exporter.Account.Name || c.im.RemoteSubject() != c.im.Local {
			t.Errorf("import %+v: want a stream import from %s under its own subject", c.im, c.exporter.Account.Name)
		}
		if !matches(c.im.Local, c.reaches) {
			t.Errorf("import %s does not carry %s", c.im.Local, c.reaches)
		}
		for _, s := range c.not {
			if matches(c.im.Local, s) {
				t.Errorf("import %s carries %s", c.im.Local, s)
			}
		}
		if !anyMatch(c.exporter.Account.DataExports, strings.ReplaceAll(c.im.Local, "*", "x")) {
			t.Errorf("%s does not export %s", c.exporter.Account.Name, c.im.Local)
		}
		if !anyMatch(c.importer.Permissions.Subscribe, c.reaches) || !anyMatch(c.exporter.Permissions.Publish, c.reaches) {
			t.Errorf("%s: the exporter may not publish it or the importer may not read it", c.reaches)
		}
	}
}
