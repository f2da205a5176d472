package clicmd

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/subjects"

	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// recording builds transcript frames, one second apart.
func recording(frames ...frame.Frame) []api.TranscriptFrame {
	var out []api.TranscriptFrame
	for i, f := range frames {
		f.Seq = uint64(i + 1)
		out = append(out, api.TranscriptFrame{Time: hb.Add(time.Duration(i) * time.Second), Frame: frame.Encode(f)})
	}
	return out
}

// serveTranscript answers ReadTranscript from rec; available says how many frames exist
// so far and whether the session has ended.
func serveTranscript(t *testing.T, e *env, rec []api.TranscriptFrame, available func() (int, bool)) *[]api.ReadTranscriptRequest {
	var mu sync.Mutex
	var reqs []api.ReadTranscriptRequest
	e.handle(api.VerbReadTranscript, func(data []byte) (any, error) {
		req := decode[api.ReadTranscriptRequest](t, data)
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		if req.SessionID != "alice-1" {
			return nil, &api.Error{Code: api.CodeNotFound, Message: "no session " + req.SessionID}
		}
		n, ended := available()
		var resp api.ReadTranscriptResponse
		for i := int(req.After); i < n && len(resp.Frames) < req.Max; i++ {
			resp.Frames = append(resp.Frames, rec[i])
		}
		resp.Complete = ended && int(req.After)+len(resp.Frames) == n
		return resp, nil
	})
	return &reqs
}

func TestPlayRaw(t *testing.T) {
	e := newEnv(t)
	var frames []frame.Frame
	var want strings.Builder
	for i := range 1200 { // more than two pages
		p := []byte(strings.Repeat(string(rune('a'+i%26)), i%7+1))
		frames = append(frames, frame.Frame{Type: frame.Stdout, Payload: p})
		want.Write(p)
	}
	frames = append(frames,
		frame.Frame{Type: frame.Resize, Payload: frame.EncodeSize(frame.Size{Cols: 80, Rows: 24})},
		frame.Frame{Type: frame.Stderr, Payload: []byte("warning\n")},
		frame.Frame{Type: frame.Exit, Payload: frame.EncodeExit(frame.ExitStatus{Code: 0, Reason: "exit"})})
	rec := recording(frames...)
	reqs := serveTranscript(t, e, rec, func() (int, bool) { return len(rec), true })

	r := e.run("", "play", "alice-1", "--raw")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != want.String() {
		t.Errorf("stdout: got %d bytes, want %d", len(r.stdout), want.Len())
	}
	if r.stderr != "warning\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	if got := len(*reqs); got != 3 {
		t.Errorf("%d ReadTranscript requests, want 3 pages", got)
	}
	for i, req := range *reqs {
		if req.Max != 500 || req.After != uint64(500*i) {
			t.Errorf("request %d = %+v", i, req)
		}
	}

	r = e.run("", "play", "alice-2", "--raw")
	if r.code != 1 || r.stderr != "tether: no session alice-2\n" {
		t.Errorf("unknown session: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPlayFollowsActiveSession(t *testing.T) {
	e := newEnv(t)
	rec := recording(
		frame.Frame{Type: frame.Stdout, Payload: []byte("one ")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("two ")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("three")},
		frame.Frame{Type: frame.Exit, Payload: frame.EncodeExit(frame.ExitStatus{Reason: "exit"})},
	)
	var mu sync.Mutex
	calls := 0
	// The session produces one more frame every third request, then ends.
	serveTranscript(t, e, rec, func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		n := min(1+calls/3, len(rec))
		return n, n == len(rec)
	})
	// A second between frames in the recording; the idle limit keeps the pauses short.
	r := e.run("", "play", "alice-1", "--idle-limit", "5ms", "--speed", "2")
	if r.code != 0 || r.stdout != "one two three" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestPlayTiming(t *testing.T) {
	e := newEnv(t)
	rec := recording(
		frame.Frame{Type: frame.Stdout, Payload: []byte("a")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("b")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("c")},
	)
	serveTranscript(t, e, rec, func() (int, bool) { return len(rec), true })
	start := time.Now()
	r := e.run("", "play", "alice-1", "--speed", "20") // 1s apart: 50ms pauses
	if r.code != 0 || r.stdout != "abc" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("played in %v, want at least two 50ms pauses", d)
	}
}

// startAgent runs a real agent in-process, enrolled as name.
func startAgent(t *testing.T, s *brokertest.Server, name string) {
	t.Helper()
	act := s.Activation(name, map[string]string{"env": "test"}, 1)
	ag, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: t.TempDir(), ActivationID: act.ID, ActivationCode: act.Code, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() { cancel(); polltest.Returns(t, time.Minute, "stopping agent "+name, func() { <-done }) })
	brokertest.WaitFor(t, 10*time.Second, name+" online", func() bool {
		var r api.DescribeInstancesResponse
		return s.Call(s.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{name}}, &r) == nil &&
			len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
}

// tetherFor is a tether configured as the broker's admin.
func tetherFor(t *testing.T, s *brokertest.Server) *env {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.nk"), append(s.AdminSeed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfgPath: filepath.Join(dir, "config.json")}
	if err := config.Write(e.cfgPath, &config.Config{BrokerURL: s.URL(), User: "admin", NKeySeedFile: "admin.nk"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// A session whose frames the transcript stream no longer holds cannot be played from the
// stream: play says so and fails, rather than waiting for frames that will never come.
func TestPlayStreamNoLongerHoldsSession(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // the agent's commands read no rc file of the user's
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.Recordings.NoShip = true })
	startAgent(t, s, "web-1")
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"echo", "recorded"}}, &start); err != nil {
		t.Fatal(err)
	}
	id := start.Session.ID
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if code, err := session.Run(ctx, s.Admin, start, session.Options{Stdout: io.Discard, NoStdin: true}); err != nil || code != 0 {
		t.Fatalf("session: code %d, err %v", code, err)
	}
	brokertest.WaitFor(t, 30*time.Second, "the session's end", func() bool {
		var r api.GetSessionResponse
		return s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &r) == nil && r.Session.Ended() && r.Session.OutFrames > 0
	})
	tether := tetherFor(t, s)
	// While the stream holds it, it plays.
	if r := tether.run("", "play", id, "--source", "stream", "--raw"); r.code != 0 || r.stdout != "recorded\n" {
		t.Fatalf("play from the stream: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), jsdef.StreamTranscripts)
	if err != nil {
		t.Fatal(err)
	}
	sub := subjects.ForSession(start.Session.Target, start.Session.Owner, id)
	if err := st.Purge(t.Context(), jetstream.WithPurgeSubject(sub.Out)); err != nil {
		t.Fatal(err)
	}

	done := make(chan result, 1)
	go func() { done <- tether.run("", "play", id, "--source", "stream", "--raw") }()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("play --source stream of a session the stream no longer holds did not return")
	}
	if r.code == 0 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q: want a failure and no output", r.code, r.stdout)
	}
	for _, want := range []string{id, "transcript stream no longer holds it", "Try: tether play " + id + " --source storage"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
}
