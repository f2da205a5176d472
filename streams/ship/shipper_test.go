package ship_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/ship/cast/casttest"
	"github.com/tetherhq/tether/streams/ship/store"
	"github.com/tetherhq/tether/streams/wire/api"
)

// startAgent runs a real agent in-process, enrolled as name.
func startAgent(t *testing.T, s *brokertest.Server, name string) {
	t.Helper()
	act := s.Activation(name, map[string]string{"env": "test"}, 1)
	a, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: t.TempDir(), ActivationID: act.ID, ActivationCode: act.Code, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); polltest.Returns(t, time.Minute, "stopping agent "+name, func() { <-done }) })
	brokertest.WaitFor(t, 10*time.Second, name+" online", func() bool {
		var r api.DescribeInstancesResponse
		return s.Call(s.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{name}}, &r) == nil &&
			len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
}

// sessionCtx bounds a session the test attaches to: one that never ends fails the test
// instead of hanging the package until go test's timeout.
func sessionCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// run runs argv on target as the admin and returns what the client saw on stdout.
func run(t *testing.T, s *brokertest.Server, target string, argv ...string) (string, []byte) {
	t.Helper()
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: target, Command: argv}, &start); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := session.Run(sessionCtx(t), s.Admin, start, session.Options{Stdout: &out, Stderr: io.Discard, NoStdin: true})
	if err != nil || code != 0 {
		t.Fatalf("session %v: code %d, err %v", argv, code, err)
	}
	return start.Session.ID, out.Bytes()
}

func buckets(t *testing.T, s *brokertest.Server) (jetstream.JetStream, *jsdef.Buckets) {
	t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	b, err := jsdef.Ensure(t.Context(), js, jsdef.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return js, b
}

// waitShipped waits for the recordings index to have session id.
func waitShipped(t *testing.T, b *jsdef.Buckets, id string) api.Recording {
	t.Helper()
	var rec api.Recording
	brokertest.WaitFor(t, 30*time.Second, "the recording of "+id, func() bool {
		e, err := b.Recordings.Get(context.Background(), ship.IndexKey(id))
		return err == nil && json.Unmarshal(e.Value(), &rec) == nil
	})
	return rec
}

// noShipServer is a broker that runs no shipper (the test runs its own), with an agent
// "web-1", and a directory backend at root.
func noShipServer(t *testing.T) (s *brokertest.Server, js jetstream.JetStream, b *jsdef.Buckets, dir *store.Dir, root string) {
	t.Helper()
	s = brokertest.NewServer(t, func(o *brokerd.Options) { o.Recordings.NoShip = true })
	startAgent(t, s, "web-1")
	js, b = buckets(t, s)
	root = t.TempDir()
	dir, err := store.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, js, b, dir, root
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// The shipped recording is the session, whole: the raw output's hash matches what the
// client saw, the cast plays back the same text (multi-byte UTF-8 split across frames
// intact), the metadata names both files with their hashes, and asciinema reads the cast.
func TestShipsCompleteRecording(t *testing.T) {
	s := brokertest.NewServer(t)
	startAgent(t, s, "web-1")
	_, b := buckets(t, s)

	// Several MiB: random binary, then multi-byte UTF-8 that 32 KiB frames cut anywhere.
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	data = append(data, bytes.Repeat([]byte("héllo wörld ✓ 🚀 \x1b[1mbold\x1b[0m\r\n"), 40000)...)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	id, got := run(t, s, "web-1", "cat", path)
	if !bytes.Equal(got, data) {
		t.Fatalf("client saw %d bytes, want %d", len(got), len(data))
	}
	rec := waitShipped(t, b, id)
	if rec.OutputSHA256 != sha(data) || rec.OutputBytes != int64(len(data)) || rec.Frames != rec.OutFrames || rec.Frames == 0 {
		t.Fatalf("recording = %+v", rec)
	}
	root := filepath.Join(s.StateDir, "recordings")
	read := func(key string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	castFile, logFile := read(rec.Files[api.RecordingCast].Key), read(rec.Files[api.RecordingLog].Key)
	if sha(castFile) != rec.Files[api.RecordingCast].SHA256 || sha(logFile) != rec.Files[api.RecordingLog].SHA256 {
		t.Fatal("file hashes differ from the metadata's")
	}
	wantKey := rec.StartedAt.UTC().Format("2006/01/02") + "/" + id + ".cast"
	if rec.Files[api.RecordingCast].Key != wantKey {
		t.Fatalf("cast key %q, want %q", rec.Files[api.RecordingCast].Key, wantKey)
	}
	var meta api.Recording
	if err := json.Unmarshal(read(strings.TrimSuffix(wantKey, ".cast")+".json"), &meta); err != nil || meta.OutputSHA256 != rec.OutputSHA256 {
		t.Fatalf("metadata file = %+v, %v", meta, err)
	}
	r, err := cast.NewReader(bytes.NewReader(castFile))
	if err != nil {
		t.Fatal(err)
	}
	var played strings.Builder
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Code == "o" {
			played.WriteString(ev.Data)
		}
	}
	if want := string([]rune(string(data))); played.String() != want {
		t.Fatalf("cast plays %d bytes of text, want %d", played.Len(), len(want))
	}
	if bytes.Contains(logFile, []byte("\x1b[")) || !bytes.Contains(logFile, []byte("héllo wörld ✓ 🚀 bold\n")) {
		t.Fatal("the log keeps escapes or lost text")
	}
	// asciinema reads the file as it is.
	if out := casttest.AsciinemaCat(t, filepath.Join(root, filepath.FromSlash(wantKey))); out != played.String() {
		t.Fatalf("asciinema cat printed %d bytes, want %d", len(out), played.Len())
	}
}

// countingUploader counts Puts per key, and can fail or stall them.
type countingUploader struct {
	ship.Uploader
	mu    sync.Mutex
	puts  map[string]int
	fault func(key string) error // called before each Put
}

func (u *countingUploader) Put(ctx context.Context, key string, r io.Reader, size int64, o ship.PutOptions) error {
	if u.fault != nil {
		if err := u.fault(key); err != nil {
			return err
		}
	}
	u.mu.Lock()
	u.puts[key]++
	u.mu.Unlock()
	return u.Uploader.Put(ctx, key, r, size, o)
}

// Several shippers share the work: every session is shipped once, none is missed.
func TestShippersShareWork(t *testing.T) {
	s, js, b, dir, _ := noShipServer(t)
	up := &countingUploader{Uploader: dir, puts: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		sh, err := ship.New(ship.Config{JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: up, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = sh.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); polltest.Returns(t, time.Minute, "stopping the shippers", wg.Wait) })
	var ids []string
	for i := range 12 {
		id, _ := run(t, s, "web-1", "echo", strings.Repeat("x", i))
		ids = append(ids, id)
	}
	for _, id := range ids {
		waitShipped(t, b, id)
	}
	var shipped uint64
	brokertest.WaitFor(t, 10*time.Second, "the shippers' reports", func() bool {
		shipped = 0
		for _, name := range []string{"a", "b", "c"} {
			e, err := b.Recordings.Get(context.Background(), ship.StatusKey(name))
			var st api.ShipperStatus
			if err != nil || json.Unmarshal(e.Value(), &st) != nil {
				return false
			}
			shipped += st.Shipped
		}
		return shipped == 12
	})
	up.mu.Lock()
	defer up.mu.Unlock()
	for key, n := range up.puts {
		if n != 1 {
			t.Errorf("%s stored %d times", key, n)
		}
	}
	if len(up.puts) != 36 {
		t.Errorf("%d files stored, want 36", len(up.puts))
	}
}

// A shipper that dies half way leaves no recording that looks complete (the metadata is
// written last), and another shipper finishes the job.
func TestShipperKilledMidUpload(t *testing.T) {
	s, brokerJS, b, dir, root := noShipServer(t)
	// The broker owns the shared consumer: here it hands a silent delivery on after a second.
	if err := ship.EnsureConsumers(t.Context(), brokerJS, time.Second); err != nil {
		t.Fatal(err)
	}
	// The doomed shipper has a connection of its own, which it loses, as a killed process
	// would, right after storing the cast.
	nc, err := s.InternalConn("doomed shipper")
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var died atomic.Bool
	doomed := &countingUploader{Uploader: dir, puts: map[string]int{}, fault: func(key string) error {
		if strings.HasSuffix(key, ".log") {
			died.Store(true)
			nc.Close()
			return errors.New("killed")
		}
		return nil
	}}
	sh, err := ship.New(ship.Config{JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: doomed, Name: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sh.Run(ctx) }()

	id, _ := run(t, s, "web-1", "echo", "half")
	brokertest.WaitFor(t, 20*time.Second, "the shipper's death", died.Load)
	matches, _ := filepath.Glob(filepath.Join(root, "*", "*", "*", id+".*"))
	for _, m := range matches {
		if strings.HasSuffix(m, ".json") || strings.HasSuffix(m, ".log") {
			t.Fatalf("a dead shipper left %s", m)
		}
	}
	// The next shipper gets the session once the dead one's delivery times out.
	js2, b2 := buckets(t, s)
	sh2, err := ship.New(ship.Config{JS: js2, Sessions: b2.Sessions, Index: b2.Recordings, Uploader: dir, Name: "heir"})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = sh2.Run(ctx) }()
	rec := waitShipped(t, b2, id)
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rec.Files[api.RecordingLog].Key))); err != nil {
		t.Fatal(err)
	}
	if rec.Shipper != "heir" {
		t.Fatalf("shipped by %s", rec.Shipper)
	}
}

// Shipping a session again (a redelivery) writes the same keys with the same bytes.
func TestShipAgainWritesTheSameBytes(t *testing.T) {
	s, js, b, dir, root := noShipServer(t)
	sh, err := ship.New(ship.Config{JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: dir, Name: "once",
		Now: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := run(t, s, "web-1", "sh", "-c", "printf 'one\\n'; printf 'two\\033[0m\\n' >&2")
	// Shipped once ended, as the shipper would: by then every frame is in the stream.
	var se api.Session
	brokertest.WaitFor(t, 10*time.Second, "the session record's end", func() bool {
		e, err := b.Sessions.Get(t.Context(), id)
		return err == nil && json.Unmarshal(e.Value(), &se) == nil && se.Ended()
	})
	snapshot := func() map[string]string {
		files := map[string]string{}
		err := dir.List(t.Context(), "", func(key string, _ int64) error {
			data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
			files[key] = string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	first, err := sh.Ship(t.Context(), se)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot()
	second, err := sh.Ship(t.Context(), se)
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if len(before) != 3 || len(after) != 3 {
		t.Fatalf("files: %d then %d, want 3", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed when shipped again", k)
		}
	}
	if first.Files[api.RecordingCast] != second.Files[api.RecordingCast] || first.OutputSHA256 != second.OutputSHA256 {
		t.Fatalf("metadata differs: %+v vs %+v", first, second)
	}
}
