package callout_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/callout"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
)

func newKey(t *testing.T) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return kp, pub
}

// recordingPusher stands in for the resolver, to see what is pushed and to fail pushes.
type recordingPusher struct {
	mu     sync.Mutex
	pushed []string // account names
	fail   error
}

func (p *recordingPusher) Push(_ context.Context, s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	c, err := jwt.DecodeAccountClaims(s)
	if err != nil {
		return err
	}
	p.pushed = append(p.pushed, c.Name)
	return nil
}

func (p *recordingPusher) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pushed
	p.pushed = nil
	return out
}

// fakeServer makes authorization requests as a nats-server would: signed with its key.
type fakeServer struct {
	kp  nkeys.KeyPair
	pub string
}

func newFakeServer(t *testing.T) fakeServer {
	kp, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return fakeServer{kp, pub}
}

// request is the server's request for a client holding client (nil: no key), signing the
// nonce with signer, and giving user and password.
func (s fakeServer) request(t *testing.T, client, signer nkeys.KeyPair, user, pass string) *jwt.AuthorizationRequestClaims {
	t.Helper()
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	rc := jwt.NewAuthorizationRequestClaims("AAUTH")
	rc.Audience = "nats-authorization-request"
	rc.UserNkey = upub
	rc.Server = jwt.ServerID{ID: s.pub, Name: "fake"}
	rc.Expires = time.Now().Add(time.Minute).Unix()
	rc.ClientInformation.Nonce = "the-servers-nonce"
	rc.ConnectOptions.Username, rc.ConnectOptions.Password = user, pass
	if client != nil {
		rc.ConnectOptions.Nkey, _ = client.PublicKey()
		sig, _ := signer.Sign([]byte(rc.ClientInformation.Nonce))
		rc.ConnectOptions.SignedNonce = base64.RawURLEncoding.EncodeToString(sig)
	}
	enc, err := rc.Encode(s.kp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jwt.DecodeAuthorizationRequestClaims(enc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestResponderDecides(t *testing.T) {
	keys := newKeys(t)
	dir := principals.New()
	cp, cpPub := newKey(t)
	dir.AddInternal(cpPub)
	alice, alicePub := newKey(t)
	dir.PutUser(api.User{Name: "alice", NKey: alicePub})
	agent, agentPub := newKey(t)
	dir.PutAgent(agentPub, "web-1")
	dir.PutActivation(principals.Activation{ID: "act1", CodeHash: principals.HashCode("CODE"), Limit: 1, ExpiresAt: time.Now().Add(time.Hour)})
	enrolling, enrollingPub := newKey(t)
	stranger, _ := newKey(t)

	push := &recordingPusher{}
	reg, err := callout.NewRegistry(keys, push)
	if err != nil {
		t.Fatal(err)
	}
	r := callout.NewResponder(keys, dir, reg, nil)
	srv := newFakeServer(t)
	authPub, _ := keys.Auth.PublicKey()

	for _, tc := range []struct {
		name    string
		req     *jwt.AuthorizationRequestClaims
		fail    error
		account string // placed in; "" refused
		reason  string
		pushed  []string
		perms   bool // the user JWT carries permissions
	}{
		{name: "control plane", req: srv.request(t, cp, cp, "", ""), account: accounts.Service},
		{name: "user", req: srv.request(t, alice, alice, "", ""), account: "U_alice", perms: true,
			pushed: []string{"U_alice", accounts.Service, callout.AuthAccount}},
		{name: "user again", req: srv.request(t, alice, alice, "", ""), account: "U_alice", perms: true},
		{name: "agent while the resolver fails", req: srv.request(t, agent, agent, "", ""), fail: errors.New("resolver down"),
			reason: "not authorized"},
		{name: "agent", req: srv.request(t, agent, agent, "", ""), account: "A_web-1", perms: true,
			pushed: []string{"G_web-1", "A_web-1", accounts.Service, callout.AuthAccount}},
		{name: "enrollment", req: srv.request(t, enrolling, enrolling, "act1", "CODE"), account: "E_" + enrollingPub, perms: true,
			pushed: []string{"E_" + enrollingPub, accounts.Service, callout.AuthAccount}},
		{name: "enrollment, wrong code", req: srv.request(t, enrolling, enrolling, "act1", "WRONG"), reason: "enrollment with activation"},
		{name: "unknown key", req: srv.request(t, stranger, stranger, "", ""), reason: "unknown nkey"},
		{name: "alice's key, signed by another", req: srv.request(t, alice, stranger, "", ""), reason: "bad nkey signature"},
		{name: "no key", req: srv.request(t, nil, nil, "", ""), reason: "no nkey presented"},
		{name: "signed by a server other than named", req: func() *jwt.AuthorizationRequestClaims {
			req := srv.request(t, alice, alice, "", "")
			req.Server.ID = newFakeServer(t).pub
			return req
		}(), reason: "not signed by the server it names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			push.fail = tc.fail
			resp, refused := r.Authorize(t.Context(), tc.req)
			if resp == "" {
				t.Fatalf("no response: %v", refused)
			}
			rc, err := jwt.DecodeAuthorizationResponseClaims(resp)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Issuer != authPub || rc.Subject != tc.req.UserNkey || rc.Audience != tc.req.Server.ID {
				t.Fatalf("response from %s for %s to %s", rc.Issuer, rc.Subject, rc.Audience)
			}
			if got := push.take(); strings.Join(got, " ") != strings.Join(tc.pushed, " ") {
				t.Fatalf("pushed %q, want %q", got, tc.pushed)
			}
			if tc.account == "" {
				if refused == nil || rc.Jwt != "" || !strings.Contains(rc.Error, tc.reason) {
					t.Fatalf("placed: jwt %v, error %q, refused %v; want refusal %q", rc.Jwt != "", rc.Error, refused, tc.reason)
				}
				return
			}
			if refused != nil || rc.Error != "" {
				t.Fatalf("refused: %v (%s)", refused, rc.Error)
			}
			uc, err := jwt.DecodeUserClaims(rc.Jwt)
			if err != nil {
				t.Fatal(err)
			}
			want := pubOf(t, keys, tc.account)
			if uc.Subject != tc.req.UserNkey || uc.Issuer != want || uc.IssuerAccount != want {
				t.Fatalf("user %s issued by %s for %s, want %s in %s", uc.Subject, uc.Issuer, uc.IssuerAccount, tc.req.UserNkey, want)
			}
			if got := len(uc.Pub.Allow) > 0 && len(uc.Sub.Allow) > 0; got != tc.perms {
				t.Fatalf("permissions %v, want %v", got, tc.perms)
			}
		})
	}
}

func TestResponderEncrypts(t *testing.T) {
	keys, err := callout.NewKeys(true)
	if err != nil {
		t.Fatal(err)
	}
	dir := principals.New()
	cp, cpPub := newKey(t)
	dir.AddInternal(cpPub)
	reg, err := callout.NewRegistry(keys, &recordingPusher{})
	if err != nil {
		t.Fatal(err)
	}
	r := callout.NewResponder(keys, dir, reg, nil)
	srv := newFakeServer(t)
	sx, _ := nkeys.CreateCurveKeys()
	sxPub, _ := sx.PublicKey()
	calloutX, _ := keys.XKey.PublicKey()

	req := srv.request(t, cp, cp, "", "")
	req.Server.XKey = sxPub
	enc, err := req.Encode(srv.kp)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sx.Seal([]byte(enc), calloutX)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Respond(t.Context(), []byte(enc), ""); err == nil {
		t.Fatal("answered a request in clear although the auth account asks for encryption")
	}
	resp, err := r.Respond(t.Context(), sealed, sxPub)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := sx.Open(resp, calloutX)
	if err != nil {
		t.Fatalf("response not encrypted to the server: %v", err)
	}
	rc, err := jwt.DecodeAuthorizationResponseClaims(string(opened))
	if err != nil || rc.Jwt == "" {
		t.Fatalf("response %+v, %v", rc, err)
	}
	other, _ := nkeys.CreateCurveKeys()
	otherPub, _ := other.PublicKey()
	if _, err := r.Respond(t.Context(), sealed, otherPub); err == nil {
		t.Fatal("answered a request sealed by a key other than the header's")
	}
}
