// Package natstest runs a real nats-server in a test's process: the server tests of the
// streams and agent packages share, with no broker around it.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Connect starts a server with opts (nil: loopback, a free port, no logs), stops it when
// the test ends, and returns a connection to it, closed when the test ends.
func Connect(t testing.TB, opts *server.Options) *nats.Conn {
	t.Helper()
	if opts == nil {
		opts = &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
