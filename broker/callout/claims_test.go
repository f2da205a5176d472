package callout_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/tetherhq/tether/broker/callout"
	"github.com/tetherhq/tether/streams/accounts"
)

func newKeys(t *testing.T) *callout.Keys {
	t.Helper()
	k, err := callout.NewKeys(false)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(t *testing.T, k *callout.Keys, name string) string {
	t.Helper()
	pub, err := k.AccountPub(name)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// signed encodes c with the operator key and decodes it again, failing on any blocking
// validation issue: what a resolver would refuse.
func signed(t *testing.T, k *callout.Keys, c *jwt.AccountClaims) *jwt.AccountClaims {
	t.Helper()
	s, err := c.Encode(k.Operator)
	if err != nil {
		t.Fatalf("encode %s: %v", c.Name, err)
	}
	got, err := jwt.DecodeAccountClaims(s)
	if err != nil {
		t.Fatal(err)
	}
	vr := jwt.CreateValidationResults()
	got.Validate(vr)
	if vr.IsBlocking(true) {
		t.Fatalf("claims of %s invalid: %v", c.Name, vr.Errors())
	}
	return got
}

// checkImport finds the import of i from exporter in imports and checks its subjects,
// type and activation token.
func checkImport(t *testing.T, imports jwt.Imports, exporter, importer string, i accounts.Import) {
	t.Helper()
	for _, im := range imports {
		if im.Account != exporter || string(im.Subject) != i.RemoteSubject() {
			continue
		}
		local := string(im.LocalSubject)
		if local == "" {
			local = string(im.Subject)
		}
		if local != i.Local || im.IsStream() != i.Stream {
			t.Fatalf("import %s: local %q, stream %v; want %q, %v", im.Subject, local, im.IsStream(), i.Local, i.Stream)
		}
		act, err := jwt.DecodeActivationClaims(im.Token)
		if err != nil {
			t.Fatalf("import %s: token: %v", im.Subject, err)
		}
		if act.Issuer != exporter || act.Subject != importer || string(act.ImportSubject) != i.RemoteSubject() {
			t.Fatalf("import %s: token from %s for %s on %s", im.Subject, act.Issuer, act.Subject, act.ImportSubject)
		}
		return
	}
	t.Fatalf("no import of %s (%s) from %s", i.RemoteSubject(), i.Local, exporter)
}

func TestAccountClaimsOfEachKind(t *testing.T) {
	k := newKeys(t)
	svc := pubOf(t, k, accounts.Service)
	for _, g := range []accounts.Grant{
		accounts.User("alice", false),
		accounts.Agent("web-1"),
		accounts.Enrollment("act1", "UABC"),
		accounts.Shipper("ship1"),
	} {
		a := g.Account
		t.Run(a.Name, func(t *testing.T) {
			c, err := callout.AccountClaims(k, a)
			if err != nil {
				t.Fatal(err)
			}
			got := signed(t, k, c)
			pub := pubOf(t, k, a.Name)
			if got.Subject != pub || got.Name != a.Name {
				t.Fatalf("account %s %q, want %s %q", got.Subject, got.Name, pub, a.Name)
			}
			if got.Limits.IsJSEnabled() {
				t.Fatal("JetStream enabled in a principal's account")
			}
			if got.Limits.Conn != int64(a.Limits.Conns) || got.Limits.Subs != int64(a.Limits.Subs) || got.Limits.LeafNodeConn != 0 {
				t.Fatalf("limits %+v, want %+v", got.Limits.AccountLimits, a.Limits)
			}
			want := len(a.Imports)
			for _, i := range a.Imports {
				checkImport(t, got.Imports, svc, pub, i)
			}
			if a.Gate != nil {
				want += len(a.Gate.Ingress)
				gate := pubOf(t, k, a.Gate.Name)
				for _, i := range a.Gate.Ingress {
					checkImport(t, got.Imports, gate, pub, i)
				}
			}
			if len(got.Imports) != want {
				t.Fatalf("%d imports, want %d", len(got.Imports), want)
			}
			var services, streams []string
			for _, e := range got.Exports {
				if !e.TokenReq {
					t.Fatalf("export %s is public", e.Subject)
				}
				if e.IsService() {
					services = append(services, string(e.Subject))
				} else {
					streams = append(streams, string(e.Subject))
				}
			}
			if !slices.Equal(services, a.Exports) || !slices.Equal(streams, a.DataExports) {
				t.Fatalf("exports %q and streams %q, want %q and %q", services, streams, a.Exports, a.DataExports)
			}
		})
	}
}

func TestGateClaims(t *testing.T) {
	k := newKeys(t)
	a := accounts.Agent("web-1").Account
	svc := pubOf(t, k, accounts.Service)
	gate := pubOf(t, k, a.Gate.Name)
	for _, tc := range []struct {
		name     string
		sessions [][]accounts.Mapping
	}{
		{"no session", nil},
		{"two sessions", [][]accounts.Mapping{
			accounts.SessionMappings("web-1", "alice", "s1"),
			accounts.SessionMappings("web-1", "bob", "s2"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := callout.GateClaims(k, a, tc.sessions...)
			if err != nil {
				t.Fatal(err)
			}
			got := signed(t, k, c)
			if got.Subject != gate || got.Limits.Conn != 0 || got.Limits.IsJSEnabled() {
				t.Fatalf("gate %s: conn %d, JetStream %v", got.Subject, got.Limits.Conn, got.Limits.IsJSEnabled())
			}
			for _, i := range a.Gate.Imports {
				checkImport(t, got.Imports, svc, gate, i)
			}
			for _, i := range a.Gate.Ingress {
				if !slices.ContainsFunc(got.Exports, func(e *jwt.Export) bool {
					return string(e.Subject) == i.RemoteSubject() && e.TokenReq
				}) {
					t.Fatalf("gate does not export %s", i.RemoteSubject())
				}
			}
			want := map[string]string{}
			for _, ms := range tc.sessions {
				for _, m := range ms {
					want[m.From] = m.To
				}
			}
			if len(got.Mappings) != len(want) {
				t.Fatalf("%d mappings, want %d", len(got.Mappings), len(want))
			}
			for from, to := range want {
				wm := got.Mappings[jwt.Subject(from)]
				if len(wm) != 1 || string(wm[0].Subject) != to || wm[0].GetWeight() != 100 {
					t.Fatalf("mapping of %s: %+v, want %s", from, wm, to)
				}
			}
		})
	}
	if _, err := callout.GateClaims(k, accounts.User("alice", false).Account); err == nil {
		t.Fatal("gate claims of a user's account")
	}
}

func TestServiceClaims(t *testing.T) {
	k := newKeys(t)
	ps := []accounts.Account{accounts.User("alice", false).Account, accounts.Agent("web-1").Account}
	c, err := callout.ServiceClaims(k, ps)
	if err != nil {
		t.Fatal(err)
	}
	got := signed(t, k, c)
	svc := pubOf(t, k, accounts.Service)
	if got.Subject != svc || got.Name != accounts.Service || !got.Limits.IsJSEnabled() {
		t.Fatalf("service account %s %q, JetStream %v", got.Subject, got.Name, got.Limits.IsJSEnabled())
	}
	exports := map[string]*jwt.Export{}
	for _, e := range got.Exports {
		exports[string(e.Subject)] = e
	}
	for _, e := range accounts.ServiceExports() {
		ex := exports[e.Subject]
		switch {
		case ex == nil:
			t.Fatalf("no export %s", e.Subject)
		case !ex.TokenReq:
			t.Fatalf("export %s is public", e.Subject)
		case ex.IsStream() != e.Stream:
			t.Fatalf("export %s: stream %v", e.Subject, ex.IsStream())
		case e.Streamed != (ex.ResponseType == jwt.ResponseTypeStream):
			t.Fatalf("export %s: response type %q", e.Subject, ex.ResponseType)
		}
	}
	n := 0
	for _, p := range ps {
		for _, subj := range p.Exports {
			checkImport(t, got.Imports, pubOf(t, k, p.Name), svc, accounts.Import{Local: subj})
			n++
		}
	}
	if len(got.Imports) != n {
		t.Fatalf("%d imports, want %d", len(got.Imports), n)
	}
}

func TestUserClaims(t *testing.T) {
	for _, tc := range []struct {
		name               string
		g                  accounts.Grant
		pubDeny, subDeny   bool
		wantPubN, wantSubN int
	}{
		{name: "user", g: accounts.User("alice", false), wantPubN: 2, wantSubN: 3},
		{name: "admin", g: accounts.User("root", true), wantPubN: 2, wantSubN: 4},
		{name: "agent", g: accounts.Agent("web-1"), wantPubN: 5, wantSubN: 3},
		{name: "nothing allowed", g: accounts.Grant{Account: accounts.Account{Name: "U_x"}}, pubDeny: true, subDeny: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uc := callout.UserClaims(tc.g, "UUSER", "AACC")
			if uc.Subject != "UUSER" || uc.IssuerAccount != "AACC" || uc.Name != tc.g.Account.Name {
				t.Fatalf("user %s of %s named %q", uc.Subject, uc.IssuerAccount, uc.Name)
			}
			if !slices.Equal(uc.Pub.Allow, jwt.StringList(tc.g.Permissions.Publish)) ||
				!slices.Equal(uc.Sub.Allow, jwt.StringList(tc.g.Permissions.Subscribe)) {
				t.Fatalf("allow pub %q sub %q, want %q %q", uc.Pub.Allow, uc.Sub.Allow, tc.g.Permissions.Publish, tc.g.Permissions.Subscribe)
			}
			if len(uc.Pub.Allow) != tc.wantPubN || len(uc.Sub.Allow) != tc.wantSubN {
				t.Fatalf("%d publish, %d subscribe subjects", len(uc.Pub.Allow), len(uc.Sub.Allow))
			}
			// An empty allow list in a user JWT allows everything: it must come with a deny.
			if got := slices.Contains(uc.Pub.Deny, ">"); got != tc.pubDeny {
				t.Fatalf("publish deny all = %v", got)
			}
			if got := slices.Contains(uc.Sub.Deny, ">"); got != tc.subDeny {
				t.Fatalf("subscribe deny all = %v", got)
			}
			if uc.Resp != nil {
				t.Fatal("response permissions given")
			}
		})
	}
}

// TestClaimsSize logs how the JWTs grow with the number of principals: the service
// account imports every principal's exports, each with an activation token, and the
// auth account lists every principal's account.
func TestClaimsSize(t *testing.T) {
	k := newKeys(t)
	size := func(c *jwt.AccountClaims, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Encode(k.Operator)
		if err != nil {
			t.Fatal(err)
		}
		return len(s)
	}
	user, agent := accounts.User("alice", false).Account, accounts.Agent("web-1").Account
	t.Logf("user account %d B, agent account %d B, gate %d B (+%d B per running session), shipper account %d B",
		size(callout.AccountClaims(k, user)), size(callout.AccountClaims(k, agent)),
		size(callout.GateClaims(k, agent)),
		size(callout.GateClaims(k, agent, accounts.SessionMappings("web-1", "alice", "s1")))-size(callout.GateClaims(k, agent)),
		size(callout.AccountClaims(k, accounts.Shipper("ship1").Account)))
	var ps []accounts.Account
	base := size(callout.ServiceClaims(k, nil))
	for i := range 200 {
		ps = append(ps, accounts.Agent(fmt.Sprintf("agent-%03d", i)).Account, accounts.User(fmt.Sprintf("user-%03d", i), false).Account)
	}
	svc := size(callout.ServiceClaims(k, ps))
	perPair := (svc - base) / 200
	var allowed []string
	for _, p := range ps {
		allowed = append(allowed, pubOf(t, k, p.Name))
	}
	auth := size(callout.AuthClaims(k, allowed))
	t.Logf("service account: %d B alone, %d B with 200 agents and 200 users: %d B per agent and user; "+
		"auth account %d B (%d B per principal); 1 MiB (the default max_payload of a push) holds about %d agents and as many users",
		base, svc, perPair, auth, auth/len(ps), (1<<20-base)/perPair)
	if perPair <= 0 || perPair > 10000 {
		t.Fatalf("implausible size per principal: %d B", perPair)
	}
}
