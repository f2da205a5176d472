package brokerd_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
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

// BenchmarkStartSession measures StartSession end to end (request, document, policy,
// session record, the agent's accept, the started event) with the shipped policy library
// and with a policy that allows everything without looking, and reports p50 and p99.
// Each session then runs "true" to its end, untimed.
func BenchmarkStartSession(b *testing.B) {
	allowAll := b.TempDir()
	if err := os.WriteFile(filepath.Join(allowAll, "allow.rego"), []byte("package tether.authz\n\ndecision := {\"allow\": true, \"reasons\": [], \"obligations\": {}}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		dir  string
	}{{"policy=shipped", ""}, {"policy=allow-all", allowAll}} {
		b.Run(bc.name, func(b *testing.B) {
			s := brokertest.NewServer(b, func(o *brokerd.Options) { o.PolicyDir = bc.dir })
			startAgent(b, s, "bench")
			var took []time.Duration
			for b.Loop() {
				var start api.StartSessionResponse
				t0 := time.Now()
				if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "bench", Command: []string{"true"}}, &start); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
				b.StopTimer()
				if code, err := session.Run(context.Background(), s.Admin, start, session.Options{Stdout: io.Discard, Stderr: io.Discard, NoStdin: true}); err != nil || code != 0 {
					b.Fatalf("session: code %d, err %v", code, err)
				}
				b.StartTimer()
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}
