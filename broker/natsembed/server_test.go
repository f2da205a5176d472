package natsembed

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/principals"
)

type oneKey struct{ pub string }

func (k oneKey) Resolve(nkey string) (principals.Identity, bool) {
	if nkey == k.pub {
		return principals.Identity{Kind: principals.KindControlPlane, Name: "control-plane"}, true
	}
	return principals.Identity{}, false
}

func (oneKey) CheckActivation(string, string) bool { return false }
func (oneKey) ActivationLimit(string) int          { return 0 }

// The streams an earlier Tether kept in the global account are the service account's now.
func TestStreamsOfTheGlobalAccountMove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jetstream")
	old, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	old.Start()
	if !old.ReadyForConnections(10 * time.Second) {
		t.Fatal("old server not ready")
	}
	nc, err := nats.Connect(old.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "keep.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	old.Shutdown()
	old.WaitForShutdown()

	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	s, err := Start(Options{StoreDir: dir, Resolver: oneKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nc, err = nats.Connect(s.ClientURL(), nats.Nkey(pub, kp.Sign))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	st, err := js.Stream(ctx, "KEEP")
	if err != nil {
		t.Fatalf("the stream did not move: %v", err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "keep.1")
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("the moved stream: %v %v", m, err)
	}
}

// A port another process holds fails Start at once, naming the address, where the server
// itself would log the failure and call itself ready.
func TestStartFailsOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"client", Options{Listen: addr}, "cannot listen for client connections on " + addr + ": address already in use"},
		{"monitor", Options{Listen: "127.0.0.1:0", MonitorListen: addr}, "cannot listen for monitoring connections on " + addr + ": address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.StoreDir, tc.o.Resolver = t.TempDir(), oneKey{}
			begin := time.Now()
			s, err := Start(tc.o)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded on a taken port")
			}
			var le *ListenError
			if !errors.As(err, &le) || err.Error() != tc.want {
				t.Fatalf("Start: %v (%T), want a ListenError %q", err, err, tc.want)
			}
			if d := time.Since(begin); d > 5*time.Second {
				t.Errorf("Start took %v to fail", d)
			}
		})
	}
}
