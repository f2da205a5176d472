package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Server is an in-process broker bound to a test.
type Server struct {
	*brokerd.Broker
	T        testing.TB
	StateDir string
	// Admin is a connection of the user "admin" (group admins).
	Admin *nats.Conn
	// AdminSeed is the admin's key; it survives Restart.
	AdminSeed []byte
	// ClientOptions are added to every connection ConnectUser makes (TLS roots).
	ClientOptions []nats.Option
}

// Option adjusts the broker's options before start.
type Option func(*brokerd.Options)

// NewServer starts a broker on a free loopback port with its state in a temp dir. It is
// closed by t.Cleanup.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return start(t, options(t, t.TempDir(), opts), nil, nil)
}

// NewTLSServer is NewServer with TLS required on the client port, using a throwaway CA
// whose certificate is at the returned path.
func NewTLSServer(t testing.TB, opts ...Option) (*Server, string) {
	t.Helper()
	ca, cert, key := writeTestCerts(t)
	tls := func(o *brokerd.Options) { o.TLSCert, o.TLSKey = cert, key }
	return start(t, options(t, t.TempDir(), append([]Option{tls}, opts...)), nil, []nats.Option{nats.RootCAs(ca)}), ca
}

// Restart closes s and starts a new broker on the same port and state directory.
func (s *Server) Restart(opts ...Option) *Server {
	s.T.Helper()
	listen := func(o *brokerd.Options) { o.Listen = hostPort(s.URL()) }
	o := options(s.T, s.StateDir, append([]Option{listen}, opts...))
	_ = s.Close()
	return start(s.T, o, s.AdminSeed, s.ClientOptions)
}

// options are the test defaults with opts applied: fast heartbeats, but an agent is lost
// only after 3 s without one (or three intervals, if opts slow them). Three missed
// heartbeats (600 ms), production's ratio, is a stall a race-detector run on two busy
// cores reaches while an agent sends megabytes: its sessions would end as agent_lost
// under a test that never meant it.
func options(t testing.TB, stateDir string, opts []Option) brokerd.Options {
	o := brokerd.Options{
		StateDir: stateDir, ServerName: "test", HeartbeatInterval: 200 * time.Millisecond,
		AgentTimeout: 5 * time.Second, Logger: TestLogger(t),
	}
	for _, f := range opts {
		f(&o)
	}
	if o.AgentLostAfter == 0 {
		o.AgentLostAfter = max(3*time.Second, 3*o.HeartbeatInterval)
	}
	return o
}

func start(t testing.TB, o brokerd.Options, seed []byte, clientOpts []nats.Option) *Server {
	t.Helper()
	if seed == nil {
		seed, _ = NewKey(t)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	o.Admins = append(o.Admins, api.User{Name: "admin", NKey: pub})
	n, err := brokerd.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	s := &Server{Broker: n, T: t, StateDir: o.StateDir, AdminSeed: seed, ClientOptions: clientOpts}
	t.Cleanup(func() { _ = s.Close() })
	s.Admin = s.ConnectUser("admin", seed)
	return s
}

// hostPort is the host:port of a client URL, whatever its scheme (nats:// or tls://).
func hostPort(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

// NewKey makes an NKEY user key pair: the seed and the public key.
func NewKey(t testing.TB) (seed []byte, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ = kp.Seed()
	pub, _ = kp.PublicKey()
	return seed, pub
}

// NewRunID is a fresh agent run id (api.RegisterRequest), for a test that plays an agent
// process.
func NewRunID() string {
	b := make([]byte, api.RunIDLen/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// KeyOptions are the nats options that authenticate with seed.
func KeyOptions(t testing.TB, seed []byte) []nats.Option {
	t.Helper()
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return []nats.Option{nats.Nkey(pub, kp.Sign)}
}

// AddUser stores a user with a fresh key and returns its seed.
func (s *Server) AddUser(name string, groups []string, attrs map[string]string) []byte {
	s.T.Helper()
	seed, pub := NewKey(s.T)
	err := s.Call(s.Admin, "admin", api.VerbAddUser, api.AddUserRequest{User: api.User{Name: name, NKey: pub, Groups: groups, Attributes: attrs}}, nil)
	if err != nil {
		s.T.Fatalf("add user %s: %v", name, err)
	}
	return seed
}

// ConnectUser connects as user name with seed, using the user's inbox prefix.
func (s *Server) ConnectUser(name string, seed []byte, opts ...nats.Option) *nats.Conn {
	s.T.Helper()
	o := append(KeyOptions(s.T, seed), nats.CustomInboxPrefix(subjects.UserInbox(name)), nats.Name("test "+name))
	o = append(o, s.ClientOptions...)
	nc, err := nats.Connect(s.URL(), append(o, opts...)...)
	if err != nil {
		s.T.Fatalf("connect as %s: %v", name, err)
	}
	s.T.Cleanup(nc.Close)
	return nc
}

// Call makes an API request as user on nc.
func (s *Server) Call(nc *nats.Conn, user, verb string, req, resp any) error {
	return s.CallTimeout(15*time.Second, nc, user, verb, req, resp)
}

// CallTimeout is Call with a deadline, for requests expected to get no answer.
func (s *Server) CallTimeout(d time.Duration, nc *nats.Conn, user, verb string, req, resp any) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return api.Call(ctx, nc, subjects.API(user, verb), req, resp)
}

// Activation creates an activation as admin and returns it with its code.
func (s *Server) Activation(name string, tags map[string]string, limit int) api.Activation {
	s.T.Helper()
	var a api.Activation
	err := s.Call(s.Admin, "admin", api.VerbCreateActivation, api.CreateActivationRequest{
		DefaultInstanceName: name, Tags: tags, Limit: limit, Expires: "1h",
	}, &a)
	if err != nil {
		s.T.Fatalf("create activation: %v", err)
	}
	return a
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	polltest.Until(t, d, what, cond)
}

// TestLogger logs through t.Log when TETHER_TEST_LOG is set, and discards otherwise.
func TestLogger(t testing.TB) *slog.Logger {
	if os.Getenv("TETHER_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// KeepAlive heartbeats as the agent of instance id (with run id run) on nc every interval
// until the test ends, so that a slow test (the race detector) does not lose the agent
// and its sessions. The test's cleanup waits for the last heartbeat.
func KeepAlive(t testing.TB, nc *nats.Conn, id, run string, every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				_ = api.Call(ctx, nc, subjects.AgentAPI(id, api.VerbHeartbeat), api.HeartbeatRequest{RunID: run}, nil)
			}
		}
	}()
}
