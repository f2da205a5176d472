package brokerd_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCommand runs argv on target as the admin through a real agent and returns its output.
func runCommand(t *testing.T, s *brokertest.Server, nc *nats.Conn, target string, argv ...string) (string, int) {
	t.Helper()
	var start api.StartSessionResponse
	if err := s.Call(nc, "admin", api.VerbStartSession, api.StartSessionRequest{Target: target, Command: argv}, &start); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	var out syncBuffer
	code, err := session.Run(t.Context(), nc, start, session.Options{Stdout: &out, Stderr: &out, NoStdin: true})
	if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return out.String(), code
}

// TestBrokerRestartWithRealAgent: a broker restart ends the running shell with an event
// and a reason (it cannot survive the control plane going away), the agent reconnects
// and registers again on its own, and new sessions work.
func TestBrokerRestartWithRealAgent(t *testing.T) {
	s := brokertest.NewServer(t)
	startAgent(t, s, "web")
	if out, code := runCommand(t, s, s.Admin, "web", "echo", "before"); out != "before\n" || code != 0 {
		t.Fatalf("before restart: %q %d", out, code)
	}
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	var out syncBuffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := session.Run(context.Background(), s.Admin, start, session.Options{Interactive: true, Stdin: stdinR, Stdout: &out})
		done <- result{code, err}
	}()
	if _, err := stdinW.Write([]byte("echo up-$((1+1))\n")); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, "shell output", func() bool { return strings.Contains(out.String(), "up-2") })

	s2 := s.Restart()
	select {
	case r := <-done:
		if r.err != nil && r.code == 0 {
			t.Fatalf("client: code %d err %v", r.code, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the client did not see its session end")
	}
	var got api.GetSessionResponse
	if err := s2.Call(s2.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: start.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.State != api.StateTerminated || got.Session.Reason != api.ReasonBrokerShutdown {
		t.Fatalf("shell after restart: %+v", got.Session)
	}
	brokertest.WaitFor(t, 20*time.Second, "agent re-registered", func() bool {
		var r api.DescribeInstancesResponse
		return s2.Call(s2.Admin, "admin", api.VerbDescribeInstances, nil, &r) == nil &&
			len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
	if out, code := runCommand(t, s2, s2.Admin, "web", "sh", "-c", "echo after; exit 4"); out != "after\n" || code != 4 {
		t.Fatalf("after restart: %q %d", out, code)
	}
}

// TestTranscriptMatchesLiveOutput: what the client saw equals what the broker recorded,
// for output with binary and multi-byte UTF-8 split across frames.
func TestTranscriptMatchesLiveOutput(t *testing.T) {
	s := brokertest.NewServer(t)
	startAgent(t, s, "rec")
	script := `i=0; while [ $i -lt 20000 ]; do printf 'Grüße ☃ %05d \001\377\n' $i; i=$((i+1)); done; head -c 300000 /dev/urandom`
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "rec", Command: []string{"sh", "-c", script}}, &start); err != nil {
		t.Fatal(err)
	}
	var live syncBuffer
	if code, err := session.Run(t.Context(), s.Admin, start, session.Options{Stdout: &live, NoStdin: true}); err != nil || code != 0 {
		t.Fatalf("run: %d %v", code, err)
	}
	var rec bytes.Buffer
	var after, cursor uint64
	for {
		var page api.ReadTranscriptResponse
		if err := s.Call(s.Admin, "admin", api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: start.Session.ID, After: after, Cursor: cursor}, &page); err != nil {
			t.Fatal(err)
		}
		for _, tf := range page.Frames {
			f := mustFrame(t, tf.Frame)
			if f.Seq != after+1 {
				t.Fatalf("transcript frame %d after %d", f.Seq, after)
			}
			after = f.Seq
			if f.Type.IsData() {
				rec.Write(f.Payload)
			}
		}
		cursor = page.Cursor
		if page.Complete {
			break
		}
		if len(page.Frames) == 0 {
			t.Fatal("transcript incomplete and no progress")
		}
	}
	const want = 20000*21 + 300000 // 21 bytes a line, then the random bytes
	if live.String() != rec.String() || rec.Len() != want {
		t.Fatalf("live %d bytes, recorded %d bytes, equal=%v", len(live.String()), rec.Len(), live.String() == rec.String())
	}
}

func mustFrame(t *testing.T, b []byte) frame.Frame {
	t.Helper()
	f, err := frame.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
