package callout_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/broker/callout"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

var _ callout.Resolver = (*principals.Directory)(nil)

// deployment is an operator-mode nats-server with a full (nats) resolver, as an existing
// NATS deployment would run it, set up for Tether: the resolver preloaded with the system,
// auth and service accounts, the default sentinel sending plain-NKEY clients to the
// callout, and the callout service answering on a connection in the auth account.
type deployment struct {
	keys *callout.Keys
	srv  *server.Server
	reg  *callout.Registry
	dir  *principals.Directory
	push callout.Pusher
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	keys, err := callout.NewKeys(true)
	if err != nil {
		t.Fatal(err)
	}
	opJWT, err := callout.OperatorJWT(keys)
	if err != nil {
		t.Fatal(err)
	}
	op, err := jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	res, err := server.NewDirAccResolver(t.TempDir(), 0, time.Minute, server.NoDelete)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := callout.NewRegistry(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	preload, err := boot.JWTs()
	if err != nil {
		t.Fatal(err)
	}
	for pub, j := range preload {
		if err := res.Store(pub, j); err != nil {
			t.Fatal(err)
		}
	}
	sentinel, err := callout.SentinelJWT(keys)
	if err != nil {
		t.Fatal(err)
	}
	sysPub, err := keys.AccountPub(callout.SystemAccount)
	if err != nil {
		t.Fatal(err)
	}
	logged := os.Getenv("TETHER_TEST_LOG") != ""
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: !logged, Debug: logged, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		TrustedOperators: []*jwt.OperatorClaims{op},
		SystemAccount:    sysPub,
		AccountResolver:  res,
		DefaultSentinel:  sentinel,
	})
	if err != nil {
		t.Fatal(err)
	}
	if logged {
		srv.ConfigureLogger()
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	d := &deployment{keys: keys, srv: srv, dir: principals.New()}

	// The control plane pushes account JWTs as a system account user.
	d.push = callout.SystemPusher{Conn: d.connect(t, nats.UserJWTAndSeed(d.systemUser(t)))}
	if d.reg, err = callout.NewRegistry(keys, d.push); err != nil {
		t.Fatal(err)
	}
	calloutJWT, err := callout.CalloutUserJWT(keys)
	if err != nil {
		t.Fatal(err)
	}
	calloutSeed, _ := keys.Callout.Seed()
	cnc := d.connect(t, nats.UserJWTAndSeed(calloutJWT, string(calloutSeed)))
	resp := callout.NewResponder(keys, d.dir, d.reg, testLogger(t))
	if err := resp.Start(cnc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := resp.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// systemUser is a system account user that may push account JWTs.
func (d *deployment) systemUser(t *testing.T) (string, string) {
	t.Helper()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	sys, err := d.keys.Account(callout.SystemAccount)
	if err != nil {
		t.Fatal(err)
	}
	uc := jwt.NewUserClaims(pub)
	uc.Pub.Allow.Add("$SYS.REQ.CLAIMS.UPDATE")
	uc.Sub.Allow.Add("_INBOX.>")
	s, err := uc.Encode(sys)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(seed)
}

func (d *deployment) connect(t *testing.T, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(d.srv.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// withKey is a plain NKEY connection, as Tether's clients make: no JWT.
func withKey(kp nkeys.KeyPair) nats.Option {
	pub, _ := kp.PublicKey()
	return nats.Nkey(pub, kp.Sign)
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("TETHER_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// caller is what the service account's responder saw of a request.
type caller struct {
	Acc  string `json:"acc"`  // Nats-Request-Info "acc": the account's public key
	Name string `json:"name"` // the account name the registry maps it to
}

func TestLayoutThroughAuthCallout(t *testing.T) {
	d := newDeployment(t)
	ctx := t.Context()

	cpKey, cpPub := newKey(t)
	d.dir.AddInternal(cpPub)
	aliceKey, alicePub := newKey(t)
	d.dir.PutUser(api.User{Name: "alice", NKey: alicePub})
	agentKey, agentPub := newKey(t)
	d.dir.PutAgent(agentPub, "web-1")

	// The control plane lands in the service account, which has JetStream.
	cp := d.connect(t, withKey(cpKey))
	js, err := jetstream.New(cp)
	if err != nil {
		t.Fatal(err)
	}
	for name, subj := range map[string]string{"X": "x.>", "TRANSCRIPTS": "tether.s.*.*.*.out"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatalf("create stream %s in the service account: %v", name, err)
		}
	}
	if _, err := js.Publish(ctx, "x.1", []byte("keep me")); err != nil {
		t.Fatal(err)
	}
	var answered atomic.Int32
	whoAmI := func(m *nats.Msg) {
		var c caller
		var info struct {
			Acc string `json:"acc"`
		}
		if err := json.Unmarshal([]byte(m.Header.Get("Nats-Request-Info")), &info); err == nil {
			c.Acc = info.Acc
			c.Name, _ = d.reg.AccountName(info.Acc)
		}
		b, _ := json.Marshal(c)
		m.Respond(b)
		answered.Add(1)
	}
	for _, subj := range []string{"tether.api.*.*", "tether.agentapi.*.*"} {
		if _, err := cp.Subscribe(subj, whoAmI); err != nil {
			t.Fatal(err)
		}
	}
	refused := make(chan *nats.Msg, 16)
	if _, err := cp.ChanSubscribe(accounts.RefusedAll, refused); err != nil {
		t.Fatal(err)
	}
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}

	var va brokertest.Violations
	alice := d.connect(t, withKey(aliceKey), nats.ErrorHandler(va.Handler), nats.CustomInboxPrefix(subjects.UserInbox("alice")))
	agent := d.connect(t, withKey(agentKey), nats.CustomInboxPrefix(subjects.AgentInbox("web-1")))

	t.Run("each principal lands in its own account", func(t *testing.T) {
		for _, tc := range []struct {
			nc      *nats.Conn
			subject string
			account string
			kind    accounts.Kind
			name    string
		}{
			{alice, "tether.api.alice.WhoAmI", "U_alice", accounts.KindUser, "alice"},
			{agent, "tether.agentapi.web-1.Register", "A_web-1", accounts.KindAgent, "web-1"},
		} {
			m, err := tc.nc.Request(tc.subject, nil, 2*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", tc.subject, err)
			}
			var got caller
			if err := json.Unmarshal(m.Data, &got); err != nil {
				t.Fatal(err)
			}
			want, _ := d.keys.AccountPub(tc.account)
			if got.Acc != want || got.Name != tc.account {
				t.Fatalf("%s: responder saw %+v, want acc %s (%s)", tc.subject, got, want, tc.account)
			}
			if k, n, ok := accounts.Parse(got.Name); !ok || k != tc.kind || n != tc.name {
				t.Fatalf("%s: principal %v %q %v", tc.subject, k, n, ok)
			}
		}
	})

	t.Run("a steered reply does not reach the service account's JetStream", func(t *testing.T) {
		before := answered.Load()
		if err := alice.PublishRequest("tether.api.alice.WhoAmI", "$JS.API.STREAM.PURGE.X", nil); err != nil {
			t.Fatal(err)
		}
		polltest.Until(t, 5*time.Second, "the steered request answered", func() bool { return answered.Load() > before })
		if err := cp.Flush(); err != nil {
			t.Fatal(err)
		}
		// The JetStream API serves requests in order: a purge dispatched before this info
		// request would have run before it.
		st, err := js.Stream(ctx, "X")
		if err != nil {
			t.Fatal(err)
		}
		if n := st.CachedInfo().State.Msgs; n != 1 {
			t.Fatalf("stream X holds %d messages after the steered reply, want 1", n)
		}
	})

	t.Run("the permissions of the user JWT apply", func(t *testing.T) {
		if _, err := alice.Request("$JS.API.INFO", nil, 500*time.Millisecond); err == nil {
			t.Fatal("user reached the JetStream API")
		}
		va.Has(t, `Publish to "$JS.API.INFO"`)
		if err := alice.Publish("tether.api.bob.WhoAmI", nil); err != nil {
			t.Fatal(err)
		}
		va.Has(t, `Publish to "tether.api.bob.WhoAmI"`)
	})

	t.Run("the service account reaches the agent, the user reaches it once a session joins them", func(t *testing.T) {
		if _, err := agent.Subscribe("tether.agent.web-1.ctl", func(m *nats.Msg) { m.Respond([]byte("pong")) }); err != nil {
			t.Fatal(err)
		}
		input := make(chan *nats.Msg, 4)
		if _, err := agent.ChanSubscribe("tether.s.web-1.*.*.in", input); err != nil {
			t.Fatal(err)
		}
		live := make(chan *nats.Msg, 4)
		if _, err := alice.ChanSubscribe("tether.s.web-1.alice.s1.out", live); err != nil {
			t.Fatal(err)
		}
		for _, nc := range []*nats.Conn{agent, alice} {
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := cp.Request("tether.agent.web-1.ctl", nil, 2*time.Second); err != nil || string(m.Data) != "pong" {
			t.Fatalf("control plane to agent: %v", err)
		}
		// Before a session joins alice's account and the agent's, her input goes nowhere.
		if err := alice.Publish("tether.s.web-1.alice.s0.in", []byte("early\n")); err != nil {
			t.Fatal(err)
		}
		if err := alice.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := d.reg.AllowSession(ctx, "web-1", "alice", "s1"); err != nil {
			t.Fatal(err)
		}
		// The claims update reaches the server with the push's answer; the import then
		// covers the agent's subscription made before it.
		polltest.Until(t, 5*time.Second, "alice's input at the agent", func() bool {
			if err := alice.Publish("tether.s.web-1.alice.s1.in", []byte("ls\n")); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-input:
				if m.Subject != "tether.s.web-1.alice.s1.in" || string(m.Data) != "ls\n" {
					t.Fatalf("the agent got %q on %s", m.Data, m.Subject)
				}
				return true
			case <-time.After(100 * time.Millisecond):
				return false
			}
		})
		if err := d.reg.EndSession(ctx, "web-1", "s1"); err != nil {
			t.Fatal(err)
		}
		if err := cp.Publish(accounts.LiveOut("web-1", "alice", "s1"), []byte("out")); err != nil {
			t.Fatal(err)
		}
		receive(t, live, "tether.s.web-1.alice.s1.out", "out")
	})

	t.Run("an agent's frames pass its gate only while the session runs", func(t *testing.T) {
		frames := func() uint64 {
			st, err := js.Stream(ctx, "TRANSCRIPTS")
			if err != nil {
				t.Fatal(err)
			}
			return st.CachedInfo().State.Msgs
		}
		publishRefused := func(subject string) {
			t.Helper()
			if err := agent.Publish(subject, []byte("frame")); err != nil {
				t.Fatal(err)
			}
			// The gate sends a frame one way only: refused, so not stored.
			receive(t, refused, "tether.refused."+strings.TrimPrefix(subject, "tether.s."), "frame")
		}
		publishRefused("tether.s.web-1.alice.s1.out")
		if n := frames(); n != 0 {
			t.Fatalf("a frame of a session not started was stored: %d", n)
		}

		if err := d.reg.AllowSession(ctx, "web-1", "alice", "s1"); err != nil {
			t.Fatal(err)
		}
		if err := agent.Publish("tether.s.web-1.alice.s1.out", []byte("frame")); err != nil {
			t.Fatal(err)
		}
		polltest.Until(t, 5*time.Second, "the session's frame stored", func() bool { return frames() == 1 })
		// Its frames for the client reach its owner, whose account imports them straight
		// from the agent's since the session joined the two.
		ctl := make(chan *nats.Msg, 4)
		if _, err := alice.ChanSubscribe("tether.s.web-1.alice.s1.ctl", ctl); err != nil {
			t.Fatal(err)
		}
		if err := alice.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := agent.Publish("tether.s.web-1.alice.s1.ctl", []byte("resize")); err != nil {
			t.Fatal(err)
		}
		receive(t, ctl, "tether.s.web-1.alice.s1.ctl", "resize")

		publishRefused("tether.s.web-1.alice.s2.out") // another session of the agent
		if err := d.reg.EndSession(ctx, "web-1", "s1"); err != nil {
			t.Fatal(err)
		}
		publishRefused("tether.s.web-1.alice.s1.out")
		if n := frames(); n != 1 {
			t.Fatalf("transcripts hold %d frames, want the one sent while the session ran", n)
		}
	})

	t.Run("another account of the operator imports only what it holds a token for", func(t *testing.T) {
		// As in an existing deployment, where the operator signs accounts besides Tether's.
		foreign, err := nkeys.CreateAccount()
		if err != nil {
			t.Fatal(err)
		}
		fpub, _ := foreign.PublicKey()
		svcKey, err := d.keys.Account(accounts.Service)
		if err != nil {
			t.Fatal(err)
		}
		svcPub, _ := svcKey.PublicKey()
		token := func(subject string, typ jwt.ExportType) string {
			act := jwt.NewActivationClaims(fpub)
			act.ImportSubject, act.ImportType = jwt.Subject(subject), typ
			s, err := act.Encode(svcKey)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		live := accounts.LiveOut("web-1", "mallory", "m1")
		c := jwt.NewAccountClaims(fpub)
		c.Name = "FOREIGN"
		c.Imports.Add(
			&jwt.Import{Account: svcPub, Subject: "tether.s.*.*.*.out", Type: jwt.Service}, // forging frames
			&jwt.Import{Account: svcPub, Subject: "tether.events.>", Type: jwt.Stream},     // reading events
			&jwt.Import{Account: svcPub, Subject: "tether.api.mallory.*", Type: jwt.Service, Token: token("tether.api.mallory.*", jwt.Service)},
			&jwt.Import{Account: svcPub, Subject: jwt.Subject(live), Type: jwt.Stream, Token: token(live, jwt.Stream)},
		)
		s, err := c.Encode(d.keys.Operator)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.push.Push(ctx, s); err != nil {
			t.Fatal(err)
		}
		ukp, upub := newKey(t)
		useed, _ := ukp.Seed()
		uc := jwt.NewUserClaims(upub)
		ujwt, err := uc.Encode(foreign)
		if err != nil {
			t.Fatal(err)
		}
		mallory := d.connect(t, nats.UserJWTAndSeed(ujwt, string(useed)))
		got := make(chan *nats.Msg, 4)
		for _, subj := range []string{"tether.events.>", live} {
			if _, err := mallory.ChanSubscribe(subj, got); err != nil {
				t.Fatal(err)
			}
		}
		if err := mallory.Flush(); err != nil {
			t.Fatal(err)
		}
		// In order from one publisher to one subscriber: an event imported would come first.
		for _, subj := range []string{"tether.events.session.started", live} {
			if err := cp.Publish(subj, []byte(subj)); err != nil {
				t.Fatal(err)
			}
		}
		receive(t, got, live, live)

		frames := make(chan *nats.Msg, 4)
		if _, err := cp.ChanSubscribe("tether.s.*.*.*.out", frames); err != nil {
			t.Fatal(err)
		}
		if err := cp.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := mallory.Publish("tether.s.web-1.mallory.m1.out", []byte("forged")); err != nil {
			t.Fatal(err)
		}
		// Into the service account in order: a frame imported would come before the request.
		m, err := mallory.Request("tether.api.mallory.WhoAmI", nil, 2*time.Second)
		if err != nil {
			t.Fatalf("the import with a token: %v", err)
		}
		var who caller
		if err := json.Unmarshal(m.Data, &who); err != nil {
			t.Fatal(err)
		}
		if who.Acc != fpub || who.Name != "" {
			t.Fatalf("responder saw %+v: want the foreign account, which maps to no principal", who)
		}
		select {
		case f := <-frames:
			t.Fatalf("a frame forged in another account reached the service account on %s", f.Subject)
		default:
		}
	})

	t.Run("keys nobody registered are refused", func(t *testing.T) {
		stranger, _ := newKey(t)
		other, _ := newKey(t)
		for name, opts := range map[string][]nats.Option{
			"unknown key":   {withKey(stranger)},
			"bad signature": {nats.Nkey(alicePub, other.Sign)},
			"no key":        nil,
		} {
			nc, err := nats.Connect(d.srv.ClientURL(), opts...)
			if err == nil {
				nc.Close()
				t.Fatalf("%s: connection accepted", name)
			}
			if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}

func receive(t *testing.T, ch <-chan *nats.Msg, subject, data string) {
	t.Helper()
	select {
	case m := <-ch:
		if m.Subject != subject || string(m.Data) != data {
			t.Fatalf("got %q on %s, want %q on %s", m.Data, m.Subject, data, subject)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing on %s", subject)
	}
}
