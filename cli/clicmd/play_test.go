package clicmd

import (
	"strings"
	"sync"
	"testing"
	"time"

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
