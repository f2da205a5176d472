package control

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Every endpoint declares who calls it and how it is authorized; none is left out.
func TestEveryEndpointIsDeclared(t *testing.T) {
	s := &Service{}
	eps := s.endpoints()
	seen := map[string]bool{}
	for _, e := range eps {
		if err := e.check(); err != nil {
			t.Errorf("%s: %v", e.verb, err)
		}
		seen[e.verb] = true
		if e.kind == accounts.KindUser && (e.authz != byPolicy || e.action == "") {
			t.Errorf("user verb %s is not decided by policy (%s)", e.verb, e.authz)
		}
	}
	for _, v := range []string{api.VerbRegister, api.VerbHeartbeat, api.VerbSessionEnded, "Enroll", api.VerbStartSession, api.VerbPushPolicy,
		api.VerbForwardOpen, api.VerbForwardClosed} {
		if !seen[v] {
			t.Errorf("verb %s has no endpoint", v)
		}
	}
	if _, err := newDispatcher(s, eps); err != nil {
		t.Fatalf("the declared endpoints do not register: %v", err)
	}
}

// An endpoint without a declaration cannot be registered.
func TestUndeclaredEndpointsAreRefused(t *testing.T) {
	serve := func(context.Context, caller, []byte) (any, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		e    endpoint
		want string
	}{
		{"no authorization", endpoint{kind: accounts.KindUser, verb: "X", limit: 1, serve: serve}, "declares no authorization"},
		{"policy without action", endpoint{kind: accounts.KindUser, verb: "X", authz: byPolicy, limit: 1, serve: serve}, "needs an action"},
		{"user speaking for itself", endpoint{kind: accounts.KindUser, verb: "X", authz: bySelf, limit: 1, serve: serve}, "only agents"},
		{"policy for agents", endpoint{kind: accounts.KindAgent, verb: "X", authz: byPolicy, action: "X", limit: 1, serve: serve}, "user callers"},
		{"owner's policy for users", endpoint{kind: accounts.KindUser, verb: "X", authz: byOwnerPolicy, action: "X", limit: 1, serve: serve}, "agent callers"},
		{"owner's policy without action", endpoint{kind: accounts.KindAgent, verb: "X", authz: byOwnerPolicy, limit: 1, serve: serve}, "needs an action"},
		{"no limit", endpoint{kind: accounts.KindAgent, verb: "X", authz: bySelf, serve: serve}, "size limit"},
		{"no handler", endpoint{kind: accounts.KindAgent, verb: "X", authz: bySelf, limit: 1}, "incomplete"},
	} {
		_, err := newDispatcher(&Service{}, []endpoint{tc.e})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	dup := policyVerb(&Service{}, "X", "X", 1, noInput[api.Empty], func(context.Context, caller, *api.Empty, struct{}, *decision) (any, error) { return nil, nil })
	if _, err := newDispatcher(&Service{}, []endpoint{dup, dup}); err == nil {
		t.Error("a verb registered twice was accepted")
	}
}

// identify says who sent a request from what the server wrote, and refuses answers that
// would go anywhere but back to the caller.
func TestIdentify(t *testing.T) {
	d := &dispatcher{s: &Service{}}
	info := func(acc string) nats.Header {
		return nats.Header{requestInfoHdr: []string{`{"acc":"` + acc + `","rtt":1}`}}
	}
	for _, tc := range []struct {
		name    string
		kind    accounts.Kind
		msg     *nats.Msg
		wantKey string
		err     string
	}{
		{"agent through its import", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Reply: "_R_.a.b", Header: info("A_web")}, "A_web", ""},
		{"agent speaking for another", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.db.Heartbeat", Reply: "_R_.a.b", Header: info("A_web")}, "", "asked on"},
		{"user account on the agent API", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Reply: "_R_.a.b", Header: info("U_web")}, "", "from account"},
		{"imported request with a reply of its own", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Reply: "$JS.API.STREAM.PURGE.X", Header: info("A_web")}, "", "not the server's"},
		{"no reply", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Header: info("A_web")}, "", "without a reply"},
		{"service account, own inbox", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Reply: "_INBOX.cp.x.y"}, accounts.Service, ""},
		{"service account, steered", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Reply: "$KV.tether_users.x"}, "", "outside the service account's inbox"},
		{"enrollment", accounts.KindEnrollment, &nats.Msg{Subject: "tether.enroll.act-1.UKEY", Reply: "_R_.a.b", Header: info("E_UKEY")}, "E_UKEY", ""},
		{"enrollment for another key", accounts.KindEnrollment, &nats.Msg{Subject: "tether.enroll.act-1.UOTHER", Reply: "_R_.a.b", Header: info("E_UKEY")}, "", "asked on"},
		{"garbage header", accounts.KindAgent, &nats.Msg{Subject: "tether.agentapi.web.Heartbeat", Reply: "_R_.a.b", Header: nats.Header{requestInfoHdr: []string{"{"}}}, "", "unreadable"},
	} {
		c, _, err := d.identify(tc.kind, tc.msg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || c.key != tc.wantKey {
			t.Errorf("%s: key %q, %v; want %q", tc.name, c.key, err, tc.wantKey)
		}
	}
}

// A principal gets PerPrincipal slots; others keep theirs; a pool full says so.
func TestPool(t *testing.T) {
	p := newPool("users", PerPrincipal+4)
	for range PerPrincipal {
		if err := p.acquire("U_alice"); err != nil {
			t.Fatal(err)
		}
	}
	err := p.acquire("U_alice")
	if !api.IsCode(err, api.CodeUnavailable) || !strings.Contains(err.Error(), "retry") {
		t.Fatalf("alice's request past her share: %v", err)
	}
	for range 4 {
		if err := p.acquire("U_bob"); err != nil {
			t.Fatalf("bob starved by alice: %v", err)
		}
	}
	if err := p.acquire("U_carol"); !api.IsCode(err, api.CodeUnavailable) {
		t.Fatalf("full pool: %v", err)
	}
	p.release("U_alice")
	if err := p.acquire("U_carol"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}
