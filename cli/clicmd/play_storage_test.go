package clicmd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/ship/seal"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// castEv is one event of a hand-built cast file.
type castEv struct {
	t    float64
	code string
	data string
}

// castFile builds an asciicast v2 file.
func castFile(t *testing.T, evs ...castEv) []byte {
	t.Helper()
	b := []byte(fmt.Sprintf(`{"version":2,"width":80,"height":24,"timestamp":%d,"env":{"TERM":"xterm"}}`+"\n", hb.Unix()))
	for _, ev := range evs {
		line, err := json.Marshal([]any{ev.t, ev.code, ev.data})
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, line...), '\n')
	}
	return b
}

// storedRecording is a shipped recording the fake control plane serves.
type storedRecording struct {
	rec  api.Recording
	data []byte // the stored cast file
	page int    // bytes per GetRecording answer
}

// serveRecordings answers GetRecording from recs, by session id, and returns the requests.
func serveRecordings(t *testing.T, e *env, recs map[string]storedRecording) func() []api.GetRecordingRequest {
	var mu sync.Mutex
	var reqs []api.GetRecordingRequest
	e.handle(api.VerbGetRecording, func(data []byte) (any, error) {
		req := decode[api.GetRecordingRequest](t, data)
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		sr, ok := recs[req.SessionID]
		if !ok {
			return nil, &api.Error{Code: api.CodeNotFound, Message: "no recording of " + req.SessionID}
		}
		if req.Kind != api.RecordingCast || req.Offset < 0 || req.Offset > int64(len(sr.data)) {
			return nil, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("bad request %+v", req)}
		}
		end := min(int(req.Offset)+sr.page, len(sr.data))
		return api.GetRecordingResponse{Recording: sr.rec, Data: sr.data[req.Offset:end], EOF: end == len(sr.data)}, nil
	})
	return func() []api.GetRecordingRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]api.GetRecordingRequest(nil), reqs...)
	}
}

// stored makes a recording of session id holding data, served page bytes at a time.
func stored(id string, data []byte, page int) storedRecording {
	sum := sha256.Sum256(data)
	return storedRecording{
		rec: api.Recording{SessionID: id, Owner: "alice", Target: "web-1", StartedAt: hb, EndedAt: hb.Add(time.Minute),
			State: api.StateTerminated, Reason: api.ReasonExit,
			Files: map[string]api.RecordingFile{api.RecordingCast: {Key: id + ".cast", Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}}},
		data: data, page: page,
	}
}

// serveSession answers GetSession for alice-1 with se.
func serveSession(t *testing.T, e *env, se api.Session) {
	e.handle(api.VerbGetSession, func(data []byte) (any, error) {
		req := decode[api.GetSessionRequest](t, data)
		if req.SessionID != se.ID {
			return nil, &api.Error{Code: api.CodeNotFound, Message: "no session " + req.SessionID}
		}
		return api.GetSessionResponse{Session: se}, nil
	})
}

func TestPlayStorage(t *testing.T) {
	e := newEnv(t)
	serveTranscript(t, e, nil, func() (int, bool) { return 0, true }) // knows only alice-1
	var evs []castEv
	var want strings.Builder
	for i := range 60 {
		d := strings.Repeat(string(rune('a'+i%26)), i%5+1)
		evs = append(evs, castEv{float64(i) / 10, "o", d})
		want.WriteString(d)
		if i%10 == 0 {
			evs = append(evs, castEv{float64(i) / 10, "i", "typed"}, castEv{float64(i) / 10, "r", "100x30"})
		}
	}
	data := castFile(t, evs...)
	reqs := serveRecordings(t, e, map[string]storedRecording{"alice-9": stored("alice-9", data, 100)})

	for _, args := range [][]string{
		{"play", "alice-9", "--raw"},                        // not in the stream: auto falls back
		{"play", "alice-9", "--raw", "--source", "storage"}, // forced
	} {
		r := e.run("", args...)
		if r.code != 0 || r.stdout != want.String() || r.stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	got := reqs()
	pages := (len(data) + 99) / 100
	if len(got) != 2*pages || pages < 3 {
		t.Fatalf("%d GetRecording requests for a %d-byte file, want %d pages twice", len(got), len(data), pages)
	}
	for i, req := range got[:pages] {
		if want := (api.GetRecordingRequest{SessionID: "alice-9", Kind: api.RecordingCast, Offset: int64(100 * i)}); req != want {
			t.Errorf("request %d = %+v, want %+v", i, req, want)
		}
	}

	r := e.run("", "play", "alice-9", "--raw", "--source", "stream")
	if r.code != 1 || r.stderr != "tether: no session alice-9\n" {
		t.Errorf("--source stream: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "play", "alice-8", "--raw")
	if r.code != 1 || r.stderr != "tether: no session alice-8\n" {
		t.Errorf("in neither: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "play", "alice-8", "--source", "storage")
	if r.code != 1 || r.stderr != "tether: no recording of alice-8\n" {
		t.Errorf("--source storage, not stored: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPlayStorageTiming(t *testing.T) {
	e := newEnv(t)
	data := castFile(t, castEv{0.5, "o", "a"}, castEv{1.5, "o", "b"}, castEv{2.5, "i", "x"}, castEv{3.5, "o", "c"})
	serveRecordings(t, e, map[string]storedRecording{"alice-1": stored("alice-1", data, 1<<20)})
	start := time.Now()
	// 1s and 2s apart at speed 20: 50ms, then 100ms capped to 80ms by the idle limit.
	r := e.run("", "play", "alice-1", "--source", "storage", "--speed", "20", "--idle-limit", "80ms")
	if r.code != 0 || r.stdout != "abc" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < 130*time.Millisecond {
		t.Errorf("played in %v, want at least 50ms+80ms of pauses", d)
	}
}

func TestPlayWindow(t *testing.T) {
	e := newEnv(t)
	// Stream: frames one second apart from hb, the session started at hb.
	rec := recording(
		frame.Frame{Type: frame.Stdout, Payload: []byte("0")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("1")},
		frame.Frame{Type: frame.Stderr, Payload: []byte("2")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("3")},
		frame.Frame{Type: frame.Stdout, Payload: []byte("4")},
	)
	serveTranscript(t, e, rec, func() (int, bool) { return len(rec), true })
	// Offsets count from when the agent connected, as the cast's do.
	serveSession(t, e, api.Session{ID: "alice-1", State: api.StateTerminated, StartedAt: hb.Add(-time.Minute),
		ConnectedAt: hb.Add(-500 * time.Millisecond)})
	// Storage: the same, with times from the session start.
	data := castFile(t, castEv{0.5, "o", "0"}, castEv{1.5, "o", "1"}, castEv{2.5, "o", "2"}, castEv{3.5, "o", "3"}, castEv{4.5, "o", "4"})
	serveRecordings(t, e, map[string]storedRecording{"alice-1": stored("alice-1", data, 7)})

	for _, tc := range []struct {
		args           []string
		stdout, stderr string
	}{
		{[]string{"--from", "1s", "--to", "3s"}, "1", "2"},
		{[]string{"--from", "2s"}, "34", "2"},
		{[]string{"--from", "1500ms"}, "134", "2"}, // the window includes its start
		{[]string{"--to", "2s"}, "01", ""},
		{[]string{"--from", "1m"}, "", ""},
	} {
		for _, src := range []string{"stream", "storage"} {
			args := append([]string{"play", "alice-1", "--raw", "--source", src}, tc.args...)
			r := e.run("", args...)
			stdout, stderr := tc.stdout, tc.stderr
			if src == "storage" { // a cast merges stderr into the output
				stdout, stderr = mergeDigits(tc.stdout+tc.stderr), ""
			}
			if r.code != 0 || r.stdout != stdout || r.stderr != stderr {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q, %q", args, r.code, r.stdout, r.stderr, stdout, stderr)
			}
		}
	}

	// Timed: playback starts at --from; 1s pauses at speed 20 are 50ms.
	start := time.Now()
	r := e.run("", "play", "alice-1", "--source", "storage", "--from", "1s", "--to", "4s", "--speed", "20")
	if r.code != 0 || r.stdout != "123" {
		t.Fatalf("timed: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < 125*time.Millisecond {
		t.Errorf("timed: played in %v, want at least 25ms+50ms+50ms of pauses", d)
	}
}

// mergeDigits sorts a string of single digits.
func mergeDigits(s string) string {
	b := []byte(s)
	for i := range b {
		for j := i + 1; j < len(b); j++ {
			if b[j] < b[i] {
				b[i], b[j] = b[j], b[i]
			}
		}
	}
	return string(b)
}

func TestPlayFallsBackToStorage(t *testing.T) {
	data := castFile(t, castEv{0.1, "o", "from storage"})
	t.Run("complete and empty", func(t *testing.T) {
		e := newEnv(t)
		serveTranscript(t, e, nil, func() (int, bool) { return 0, true })
		serveRecordings(t, e, map[string]storedRecording{"alice-1": stored("alice-1", data, 5)})
		if r := e.run("", "play", "alice-1"); r.code != 0 || r.stdout != "from storage" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("complete and empty, nothing shipped", func(t *testing.T) {
		e := newEnv(t)
		serveTranscript(t, e, nil, func() (int, bool) { return 0, true })
		serveRecordings(t, e, nil)
		if r := e.run("", "play", "alice-1"); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("complete and empty, no storage", func(t *testing.T) {
		e := newEnv(t)
		serveTranscript(t, e, nil, func() (int, bool) { return 0, true })
		e.handle(api.VerbGetRecording, func([]byte) (any, error) {
			return nil, &api.Error{Code: api.CodeUnavailable, Message: "this broker has no recordings storage configured"}
		})
		if r := e.run("", "play", "alice-1"); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if r := e.run("", "play", "alice-1", "--source", "storage"); r.code != 1 || r.stderr != "tether: this broker has no recordings storage configured\n" {
			t.Errorf("--source storage: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("ended, frames gone", func(t *testing.T) {
		e := newEnv(t)
		serveTranscript(t, e, nil, func() (int, bool) { return 0, false })
		serveSession(t, e, api.Session{ID: "alice-1", State: api.StateTerminated, OutFrames: 3})
		get := serveRecordings(t, e, map[string]storedRecording{"alice-1": stored("alice-1", data, 5)})
		if r := e.run("", "play", "alice-1"); r.code != 0 || r.stdout != "from storage" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if n := len(get()); n != (len(data)+4)/5 {
			t.Errorf("%d GetRecording requests", n)
		}
	})
	t.Run("ended, frames gone, not shipped", func(t *testing.T) {
		e := newEnv(t)
		reqs := serveTranscript(t, e, nil, func() (int, bool) { return 0, false })
		serveSession(t, e, api.Session{ID: "alice-1", State: api.StateTerminated, OutFrames: 3})
		serveRecordings(t, e, nil)
		r := e.run("", "play", "alice-1")
		want := "tether: session alice-1 has ended, but its transcript is no longer in the stream and no recording of it has been shipped\nTry: tether admin ship status\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		if len(*reqs) != 2 {
			t.Errorf("%d ReadTranscript requests, want 2 (one more after GetSession)", len(*reqs))
		}
	})
	t.Run("start gone", func(t *testing.T) {
		e := newEnv(t)
		rec := recording(
			frame.Frame{Type: frame.Stdout, Payload: []byte("lost ")},
			frame.Frame{Type: frame.Stdout, Payload: []byte("kept")},
		)
		e.handle(api.VerbReadTranscript, func(data []byte) (any, error) {
			req := decode[api.ReadTranscriptRequest](t, data)
			if req.SessionID != "alice-1" && req.SessionID != "alice-2" {
				return nil, &api.Error{Code: api.CodeNotFound, Message: "no session"}
			}
			resp := api.ReadTranscriptResponse{Complete: true}
			if req.After < 2 {
				resp.Frames = rec[1:]
			}
			return resp, nil
		})
		serveRecordings(t, e, map[string]storedRecording{"alice-1": stored("alice-1", castFile(t, castEv{0, "o", "lost kept"}), 100)})
		if r := e.run("", "play", "alice-1", "--raw"); r.code != 0 || r.stdout != "lost kept" || r.stderr != "" {
			t.Errorf("shipped: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r := e.run("", "play", "alice-2", "--raw")
		if r.code != 0 || r.stdout != "kept" || r.stderr != "tether: the stream no longer holds the start of session alice-2: playing from frame 2\n" {
			t.Errorf("not shipped: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if r := e.run("", "play", "alice-1", "--raw", "--source", "stream"); r.code != 0 || r.stdout != "kept" || r.stderr != "" {
			t.Errorf("--source stream: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

func TestPlayStorageChecksum(t *testing.T) {
	e := newEnv(t)
	data := castFile(t, castEv{0, "o", "hello"})
	bad := stored("alice-1", data, 10)
	bad.rec.Files[api.RecordingCast] = api.RecordingFile{Bytes: int64(len(data)), SHA256: strings.Repeat("0", 64)}
	serveRecordings(t, e, map[string]storedRecording{"alice-1": bad})
	r := e.run("", "play", "alice-1", "--raw", "--source", "storage")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "tether: recording alice-1: cast file has sha256 ") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestPlayEncrypted(t *testing.T) {
	e := newEnv(t)
	secret, public, err := seal.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := seal.GenerateIdentity()
	dir := t.TempDir()
	idFile := filepath.Join(dir, "age.key")
	if err := os.WriteFile(idFile, []byte("# tether\n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	strangerSecret, _, _ := seal.GenerateIdentity()
	stranger := filepath.Join(dir, "stranger.key")
	if err := os.WriteFile(stranger, []byte(strangerSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var evs []castEv
	var want strings.Builder
	for i := range 2000 { // several age chunks, several pages
		d := fmt.Sprintf("line %d\r\n", i)
		evs = append(evs, castEv{float64(i) / 1000, "o", d})
		want.WriteString(d)
	}
	var sealed bytes.Buffer
	w, err := seal.Encrypt(&sealed, []string{public, other})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(castFile(t, evs...))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sr := stored("alice-1", sealed.Bytes(), 4096)
	sr.rec.Encryption, sr.rec.Recipients = "age", []string{public, other}
	damaged := stored("alice-2", sealed.Bytes()[:sealed.Len()-100], 4096) // cut short, digest to match
	damaged.rec.Encryption, damaged.rec.Recipients = "age", []string{public, other}
	get := serveRecordings(t, e, map[string]storedRecording{"alice-1": sr, "alice-2": damaged})

	r := e.run("", "play", "alice-1", "--source", "storage", "--raw", "--identity", idFile)
	if r.code != 0 || r.stdout != want.String() || r.stderr != "" {
		t.Errorf("exit %d, %d bytes out, want %d, stderr %q", r.code, len(r.stdout), want.Len(), r.stderr)
	}
	if n, pages := len(get()), (sealed.Len()+4095)/4096; n != pages || pages < 3 {
		t.Errorf("%d GetRecording requests, want %d", n, pages)
	}

	r = e.run("", "play", "alice-1", "--source", "storage")
	wantErr := fmt.Sprintf("tether: recording alice-1 is encrypted to age recipients %s, %s; pass --identity FILE\n", public, other)
	if r.code != 1 || r.stderr != wantErr || r.stdout != "" {
		t.Errorf("no identity: exit %d, stderr %q, want %q", r.code, r.stderr, wantErr)
	}
	r = e.run("", "play", "alice-1", "--source", "storage", "--identity", stranger)
	wantErr = fmt.Sprintf("tether: recording alice-1: no identity in %s is one of its age recipients %s, %s\n", stranger, public, other)
	if r.code != 1 || r.stderr != wantErr {
		t.Errorf("wrong identity: exit %d, stderr %q, want %q", r.code, r.stderr, wantErr)
	}
	r = e.run("", "play", "alice-1", "--source", "storage", "--identity", filepath.Join(dir, "none"))
	if r.code != 1 || !strings.HasPrefix(r.stderr, "tether: read age identity ") {
		t.Errorf("missing identity file: exit %d, stderr %q", r.code, r.stderr)
	}
	open := filepath.Join(dir, "open-identity")
	if err := os.WriteFile(open, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.run("", "play", "alice-1", "--source", "storage", "--identity", open)
	if r.code != 1 || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("identity readable by others: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "play", "alice-2", "--source", "storage", "--raw", "--identity", idFile)
	if r.code != 1 || !strings.Contains(r.stderr, "decrypt: payload damaged or truncated") {
		t.Errorf("damaged: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPlayFlags(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--source", "disk"}, `--source "disk": use stream, storage or auto`},
		{[]string{"--from", "2s", "--to", "1s"}, "--from 2s, --to 1s: --from must come before --to"},
		{[]string{"--from", "1s", "--to", "1s"}, "--from 1s, --to 1s: --from must come before --to"},
		{[]string{"--from", "-1s"}, "--from -1s: must not be negative"},
		{[]string{"--to", "-1s"}, "--to -1s: must not be negative"},
		{[]string{"--speed", "0"}, "--speed 0: must be positive"},
		{[]string{"--idle-limit", "-1s"}, "--idle-limit -1s: must not be negative"},
		{[]string{"--identity", "k", "--source", "stream"}, "--identity decrypts a recording from storage: it does not go with --source stream"},
		{[]string{"--from", "soon"}, `invalid argument "soon" for "--from" flag: time: invalid duration "soon"`},
	} {
		r := e.run("", append([]string{"play", "alice-1"}, tc.args...)...)
		if want := "tether: " + tc.msg + "\nTry: tether play --help\n"; r.code != 2 || r.stderr != want {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, want)
		}
	}
}

func TestPlayWindowActiveSession(t *testing.T) {
	e := newEnv(t)
	connected := time.Now().Add(-time.Hour)
	var rec []api.TranscriptFrame
	for i, p := range []string{"a", "b", "c"} {
		rec = append(rec, api.TranscriptFrame{Time: connected.Add(time.Duration(i+1) * time.Second),
			Frame: frame.Encode(frame.Frame{Seq: uint64(i + 1), Type: frame.Stdout, Payload: []byte(p)})})
	}
	// Still running, and quiet after its second output: --to ends the wait.
	serveTranscript(t, e, rec, func() (int, bool) { return 2, false })
	serveSession(t, e, api.Session{ID: "alice-1", State: api.StateConnected, ConnectedAt: connected})
	if r := e.run("", "play", "alice-1", "--raw", "--to", "10s"); r.code != 0 || r.stdout != "ab" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
