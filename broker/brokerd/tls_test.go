package brokerd_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/wire/api"
)

// TestTLS: with TLS on, agents and users connect over TLS (verifying the broker's
// certificate) and sessions work; a client that does not trust the CA is refused.
func TestTLS(t *testing.T) {
	s, ca := brokertest.NewTLSServer(t)
	if s.Admin.TLSRequired() == false {
		t.Fatal("admin connection is not TLS")
	}
	seed, _ := brokertest.NewKey(t)
	if _, err := nats.Connect(s.URL(), brokertest.KeyOptions(t, seed)...); err == nil {
		t.Fatal("a client without the CA connected")
	}
	act := s.Activation("tls-node", nil, 1)
	a, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: t.TempDir(), ActivationID: act.ID, ActivationCode: act.Code,
		NATSOptions: []nats.Option{nats.RootCAs(ca)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	brokertest.WaitFor(t, 10*time.Second, "agent online over TLS", func() bool {
		var r api.DescribeInstancesResponse
		return s.Call(s.Admin, "admin", api.VerbDescribeInstances, nil, &r) == nil && len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
	if out, code := runCommand(t, s, s.Admin, "tls-node", "echo", "over-tls"); out != "over-tls\n" || code != 0 {
		t.Fatalf("session over TLS: %q %d", out, code)
	}
}
