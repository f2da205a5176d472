package natsembed

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// keys resolves a few principals by key.
type keys map[string]principals.Identity

func (k keys) Resolve(nkey string) (principals.Identity, bool) { id, ok := k[nkey]; return id, ok }
func (keys) CheckActivation(string, string) bool               { return false }
func (keys) ActivationLimit(string) int                        { return 0 }

func newPrincipal(t *testing.T, k keys, id principals.Identity) nats.Option {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	k[pub] = id
	return nats.Nkey(pub, kp.Sign)
}

// A session's input and the agent's frames for its client go straight between the
// owner's account and the agent's once the session is allowed, and only for that pair;
// a held server lets principals in only once opened.
func TestSessionDataJoinsOwnerAndAgent(t *testing.T) {
	k := keys{}
	alice := newPrincipal(t, k, principals.Identity{Kind: principals.KindUser, Name: "alice"})
	bob := newPrincipal(t, k, principals.Identity{Kind: principals.KindUser, Name: "bob"})
	web1 := newPrincipal(t, k, principals.Identity{Kind: principals.KindAgent, Name: "web-1"})
	s, err := Start(Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Resolver: k, HoldPrincipals: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Held: a principal's connection waits (it is not refused) until the server opens.
	connected := make(chan *nats.Conn, 1)
	go func() {
		nc, err := nats.Connect(s.URL(), alice, nats.Timeout(2*OpenWait))
		if err != nil {
			t.Error(err)
		}
		connected <- nc
	}()
	select {
	case <-connected:
		t.Fatal("a principal connected to a held server")
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.AllowSession("web-1", "alice", "s1"); err != nil {
		t.Fatal(err)
	}
	s.OpenToPrincipals()
	a := <-connected
	if a == nil {
		t.FailNow()
	}
	defer a.Close()
	connect := func(o nats.Option) *nats.Conn {
		nc, err := nats.Connect(s.URL(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	agent, b := connect(web1), connect(bob)

	s1, s2 := subjects.ForSession("web-1", "alice", "s1"), subjects.ForSession("web-1", "bob", "s2")
	in, err := agent.SubscribeSync("tether.s.web-1.*.*.in")
	if err != nil {
		t.Fatal(err)
	}
	ctlA, err := a.SubscribeSync(s1.Ctl)
	if err != nil {
		t.Fatal(err)
	}
	ctlB, err := b.SubscribeSync(s2.Ctl)
	if err != nil {
		t.Fatal(err)
	}
	flush := func(ncs ...*nats.Conn) {
		for _, nc := range ncs {
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(agent, a, b)
	// bob never had a session on web-1: neither way reaches.
	if err := b.Publish(s2.In, []byte("bob")); err != nil {
		t.Fatal(err)
	}
	if err := agent.Publish(s2.Ctl, []byte("to bob")); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishMsg(&nats.Msg{Subject: s1.In, Reply: "tether.api.alice.x", Data: []byte("ls\n")}); err != nil {
		t.Fatal(err)
	}
	if err := agent.Publish(s1.Ctl, []byte("window")); err != nil {
		t.Fatal(err)
	}
	flush(b, a, agent, a, b)
	m, err := in.NextMsg(time.Second)
	if err != nil || m.Subject != s1.In || string(m.Data) != "ls\n" || m.Reply != "tether.api.alice.x" {
		t.Fatalf("the agent got %v (%v), want alice's input with her reply subject unchanged", m, err)
	}
	if m.Header.Get("Nats-Request-Info") != "" {
		t.Fatalf("input crossed a service import: %v", m.Header)
	}
	if m, err := ctlA.NextMsg(time.Second); err != nil || string(m.Data) != "window" {
		t.Fatalf("alice got %v (%v), want the agent's frame", m, err)
	}
	for name, sub := range map[string]*nats.Subscription{"agent": in, "bob": ctlB} {
		if n, _, _ := sub.Pending(); n != 0 {
			t.Errorf("%s got %d messages of a pair no session joined", name, n)
		}
	}
}
