package node_test

import (
	"context"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
)

type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// startAgent runs a real agent in-process, enrolled as name.
func startAgent(tb testing.TB, s *brokertest.Server, name string) {
	tb.Helper()
	act := s.Activation(name, map[string]string{"env": "test"}, 1)
	a, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: tb.TempDir(), ActivationID: act.ID, ActivationCode: act.Code, Version: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	brokertest.WaitFor(tb, 10*time.Second, name+" online", func() bool {
		var r api.DescribeInstancesResponse
		return s.Call(s.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{name}}, &r) == nil &&
			len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
}

// BenchmarkSessionOutput measures bytes/s of a command's output through agent, broker
// (recorded in JetStream) and session client, all in one process.
func BenchmarkSessionOutput(b *testing.B) {
	s := brokertest.NewServer(b)
	startAgent(b, s, "bench")
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		var start api.StartSessionResponse
		if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{
			Target: "bench", Command: []string{"head", "-c", strconv.Itoa(size), "/dev/zero"},
		}, &start); err != nil {
			b.Fatal(err)
		}
		var w countingWriter
		code, err := session.Run(context.Background(), s.Admin, start, session.Options{Stdout: &w, Stderr: io.Discard, NoStdin: true})
		if err != nil || code != 0 || w.n.Load() != size {
			b.Fatalf("code %d, err %v, got %d bytes", code, err, w.n.Load())
		}
	}
}
