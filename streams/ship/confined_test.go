package ship_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/store"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// The subjects a shipper is allowed name the streams, buckets and consumers it uses.
func TestShipperSubjectsNameWhatTheShipperUses(t *testing.T) {
	var remote []string
	for _, s := range accounts.ShipperJetStream() {
		remote = append(remote, s.Remote)
	}
	allowed := strings.Join(remote, "\n")
	for _, want := range []string{
		"$JS.API.CONSUMER.MSG.NEXT." + jsdef.StreamEvents + "." + ship.ConsumerName + "\n",
		"$JS.API.CONSUMER.MSG.NEXT." + jsdef.StreamEvents + "." + ship.StreamerConsumer + "\n",
		"$JS.API.DIRECT.GET." + jsdef.StreamTranscripts + "\n",
		"$JS.API.DIRECT.GET." + jsdef.StreamEvents + "\n",
		"$JS.API.DIRECT.GET." + jsdef.StreamAudit + "\n",
		"$JS.API.DIRECT.GET.KV_" + jsdef.BucketSessions + "\n",
		"$JS.API.DIRECT.GET.KV_" + jsdef.BucketRecordings + "\n",
		"$KV." + jsdef.BucketRecordings + ".>",
	} {
		if !strings.Contains(allowed+"\n", want) {
			t.Errorf("the shipper may not publish to %q", strings.TrimSpace(want))
		}
	}
}

const streamingInputPrefs = `schemaVersion: '1.0'
sessionType: Standard_Stream
inputs:
  s3EncryptionEnabled: false
  streamingEnabled: true
  recordInput: true
`

// A shipper with nothing but a shipper's permissions streams a session's recording, input
// and all, ships ended sessions and archives the events: it makes no consumer of its own,
// and the server refuses it nothing.
func TestConfinedShipperStreamsShipsAndArchives(t *testing.T) {
	seed, pub := brokertest.NewKey(t)
	s := brokertest.NewServer(t, func(o *brokerd.Options) {
		o.Recordings.NoShip = true
		o.Shippers = map[string]string{"ship1": pub}
	})
	startAgent(t, s, "web-1")
	if err := s.Call(s.Admin, "admin", api.VerbUpdatePreferences, api.UpdateDocumentRequest{Content: streamingInputPrefs}, nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []string
	nc, err := nats.Connect(s.URL(), append(append(brokertest.KeyOptions(t, seed), s.ClientOptions...),
		nats.CustomInboxPrefix(subjects.ShipperInbox("ship1")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			defer mu.Unlock()
			refused = append(refused, err.Error())
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.NewWithAPIPrefix(nc, accounts.ShipperAPIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jsdef.BindShipping(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir, err := store.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := ship.New(ship.Config{JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: dir, Name: "ship1", Logger: brokertest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	st := ship.NewStreamer(sh)
	if st == nil {
		t.Fatal("the directory backend does not stream")
	}
	arch, err := ship.NewArchiver(ship.ArchiveConfig{JS: js, Index: b.Recordings, Uploader: dir, Prefix: "logs",
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = sh.Run(ctx) }()
	go func() { defer wg.Done(); _ = st.Run(ctx) }()
	t.Cleanup(func() { cancel(); polltest.Returns(t, time.Minute, "stopping the shippers", wg.Wait) })

	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{
		Target: "web-1", Command: []string{"sh", "-c", "echo ready; read x; echo got-$x"},
	}, &start); err != nil {
		t.Fatal(err)
	}
	id := start.Session.ID
	pr, pw := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	sctx := sessionCtx(t)
	go func() {
		_, err := session.Run(sctx, s.Admin, start, session.Options{Stdin: pr, Stdout: &out, Stderr: io.Discard})
		done <- err
	}()
	// The streamer holds its lease on the session while it runs.
	brokertest.WaitFor(t, 20*time.Second, "the streaming lease", func() bool {
		_, err := b.Recordings.Get(t.Context(), "stream."+id)
		return err == nil
	})
	pw.Write([]byte("typed\n"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec := waitShipped(t, b, id)
	if rec.Frames != rec.OutFrames || rec.InputBytes == 0 || !strings.Contains(out.String(), "got-typed") {
		t.Fatalf("recording = %+v (client saw %q)", rec, out.String())
	}
	castFile, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rec.Files[api.RecordingCast].Key)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(castFile, []byte(`"i", "typed`)) || !bytes.Contains(castFile, []byte("got-typed")) {
		t.Fatalf("the cast lacks the input or the output:\n%s", castFile)
	}
	// The session's end reached the shipper, which left the streamed recording alone.
	brokertest.WaitFor(t, 20*time.Second, "the end event handled", func() bool {
		var st api.ShipStatusResponse
		return s.Call(s.Admin, "admin", api.VerbShipStatus, nil, &st) == nil && st.Pending == 0 && st.AckPending == 0
	})
	// The archiver reads the events stream by direct gets too.
	brokertest.WaitFor(t, 10*time.Second, "the session's events archived", func() bool {
		if err := arch.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(root, "logs", "events", "*", "*", "*", "*.jsonl"))
		n := 0
		for _, f := range files {
			data, _ := os.ReadFile(f)
			n += bytes.Count(data, []byte(id))
		}
		return n >= 2
	})
	var status api.ShipperStatus
	if e, err := b.Recordings.Get(t.Context(), ship.StatusKey("ship1")); err != nil || json.Unmarshal(e.Value(), &status) != nil || status.Shipped != 0 {
		t.Fatalf("the shipper's report: %+v, %v (it ships nothing the streamer streamed)", status, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) > 0 {
		t.Fatalf("the server refused the shipper: %q", refused)
	}
}
