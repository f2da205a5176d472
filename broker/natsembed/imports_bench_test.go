package natsembed_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// What crossing accounts costs a large message, on one nats-server: the measure behind
// port forwarding's speed (issue 12). A service import copies each message to add a
// Nats-Request-Info header, whether or not the import shares it; a stream import does not.
// So session data ("in", "ctl") crosses one stream import (accounts.SessionData), where
// it crossed two and three service imports before.
//
//	go test -run '^$' -bench Import -benchtime 3000x ./broker/natsembed
func BenchmarkImportSameAccount(b *testing.B) { benchImport(b, nil) }

func BenchmarkImportStream(b *testing.B) {
	benchImport(b, func(a, _, c *server.Account) error {
		if err := a.AddStreamExport("x.in", []*server.Account{c}); err != nil {
			return err
		}
		return c.AddStreamImport(a, "x.in", "")
	})
}

func BenchmarkImportService(b *testing.B) {
	benchImport(b, func(a, _, c *server.Account) error {
		if err := c.AddServiceExport("x.in", []*server.Account{a}); err != nil {
			return err
		}
		return a.AddServiceImport(c, "x.in", "")
	})
}

// Two hops, as a user's input takes to its agent (user → service account → agent).
func BenchmarkImportServiceTwice(b *testing.B) {
	benchImport(b, func(a, s, c *server.Account) error {
		for _, err := range []error{
			c.AddServiceExport("x.in", []*server.Account{s}),
			s.AddServiceImport(c, "x.in", ""),
			s.AddServiceExport("x.in", []*server.Account{a}),
			a.AddServiceImport(s, "x.in", ""),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// benchImport publishes 256 KiB messages as a user of account A to a subscriber in
// account C (or A, when link is nil), joined by link.
func benchImport(b *testing.B, link func(a, s, c *server.Account) error) {
	a, s, c := server.NewAccount("A"), server.NewAccount("S"), server.NewAccount("C")
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 2 << 20,
		Accounts: []*server.Account{a, s, c},
		Users:    []*server.User{{Username: "a", Password: "a", Account: a}, {Username: "c", Password: "c", Account: c}}}
	srv, err := server.NewServer(opts)
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(5 * time.Second) {
		b.Fatal("server not ready")
	}
	subUser := "a"
	if link != nil {
		subUser = "c"
		lookup := func(n string) *server.Account { acc, _ := srv.LookupAccount(n); return acc }
		if err := link(lookup("A"), lookup("S"), lookup("C")); err != nil {
			b.Fatal(err)
		}
	}
	pub, err := nats.Connect(srv.ClientURL(), nats.UserInfo("a", "a"))
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	sub, err := nats.Connect(srv.ClientURL(), nats.UserInfo(subUser, subUser))
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	done := make(chan struct{})
	var n atomic.Int64
	sb, err := sub.Subscribe("x.in", func(*nats.Msg) {
		if n.Add(1) == int64(b.N) {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := sb.SetPendingLimits(-1, -1); err != nil {
		b.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 256<<10)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish("x.in", msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages arrived", n.Load(), b.N)
	}
}
