package control_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/broker/control"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
)

// loader puts bundles in force in a Live, as the broker's does; fail, when set, is called
// by Apply: the fault a test injects.
type loader struct {
	live *policies.Live
	fail func()
}

func (l *loader) Check(ctx context.Context, files []api.PolicyFile) (string, error) {
	b := policies.Bundle{Files: map[string][]byte{}}
	for _, f := range files {
		b.Files[f.Path] = []byte(f.Content)
	}
	if _, err := policies.Compile(ctx, b); err != nil {
		return "", err
	}
	return b.Revision(), nil
}

func (l *loader) Apply(ctx context.Context, files []api.PolicyFile) (string, error) {
	if l.fail != nil {
		l.fail()
	}
	b := policies.Bundle{Files: map[string][]byte{}}
	for _, f := range files {
		b.Files[f.Path] = []byte(f.Content)
	}
	e, err := policies.Compile(ctx, b)
	if err != nil {
		return "", err
	}
	l.live.Swap(e)
	return b.Revision(), nil
}

func (l *loader) Revision() string { return l.live.Revision() }

// secondControlPlane is the config of another control plane on srv's buckets, with its
// own connections, which the test closes.
func secondControlPlane(t *testing.T, srv *brokertest.Server) (control.Config, *nats.Conn) {
	t.Helper()
	nc, err := srv.InternalConn("second control plane")
	if err != nil {
		t.Fatal(err)
	}
	agentNC, err := srv.InternalConn("second control plane agents")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	t.Cleanup(agentNC.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jsdef.Ensure(context.Background(), js, jsdef.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policies.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	live := policies.NewLive(e)
	return control.Config{
		NC: nc, AgentNC: agentNC, JS: js, Buckets: b, Directory: principals.New(), Authorizer: live,
		Emitter: &events.Emitter{JS: js, Source: "test"}, Policy: &loader{live: live}, ServerName: "second",
		Logger: slog.New(slog.DiscardHandler),
	}, agentNC
}

// A control plane whose Start fails after its policy watcher started stops what it
// started: no goroutine is left behind, and Close after the failure is harmless.
func TestStartFailureLeavesNothingRunning(t *testing.T) {
	srv := brokertest.NewServer(t)
	// A pushed bundle, so that the watcher has one to put in force as it starts.
	var pushed api.PushPolicyResponse
	files := []api.PolicyFile{}
	for p, c := range policies.Shipped().Files {
		files = append(files, api.PolicyFile{Path: p, Content: string(c)})
	}
	if err := srv.Call(srv.Admin, "admin", api.VerbPushPolicy, api.PushPolicyRequest{Files: files}, &pushed); err != nil {
		t.Fatal(err)
	}

	t.Run("a later step fails", func(t *testing.T) {
		cfg, agentNC := secondControlPlane(t, srv)
		// The fault: the agents' connection is gone, so subscribing for refused frames,
		// after the policy watcher started, fails.
		agentNC.Close()
		leftover := goleak.IgnoreCurrent()
		svc, err := control.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = svc.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "connection closed") {
			t.Fatalf("Start = %v, want a failure to subscribe on the closed connection", err)
		}
		goleak.VerifyNone(t, leftover)
		if err := svc.Close(); err != nil {
			t.Fatalf("Close after a failed Start: %v", err)
		}
	})

	// Start's context is canceled as the pushed bundle is put in force: startPolicy
	// itself fails (or a later step does; the watcher's updates and the cancellation race,
	// so the case runs a few times to take both ways).
	for i := range 8 {
		t.Run(fmt.Sprintf("start is abandoned while the policy is put in force %d", i), func(t *testing.T) {
			cfg, _ := secondControlPlane(t, srv)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg.Policy.(*loader).fail = cancel
			leftover := goleak.IgnoreCurrent()
			svc, err := control.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Start(ctx); err == nil {
				svc.Close()
				t.Fatal("Start succeeded with its context canceled")
			}
			goleak.VerifyNone(t, leftover)
			if err := svc.Close(); err != nil {
				t.Fatalf("Close after a failed Start: %v", err)
			}
		})
	}
}
