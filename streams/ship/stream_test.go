package ship_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/miniotest"
	"github.com/tetherhq/tether/streams/ship/store"
	"github.com/tetherhq/tether/streams/wire/api"
)

const streamingPrefs = `schemaVersion: '1.0'
sessionType: Standard_Stream
inputs:
  s3EncryptionEnabled: false
  streamingEnabled: true
`

// With streamingEnabled, a long session's recording goes up in parts while it runs: the
// parts are in the bucket before the session ends, the object appears only when it does,
// and it is the whole session.
func TestStreamsPartsWhileRunning(t *testing.T) {
	m := miniotest.Start(t)
	m.MakeBucket("recordings")
	up, err := store.NewS3(t.Context(), store.S3Config{
		Endpoint: m.Endpoint(), Bucket: "recordings", PathStyle: true, PartSize: 5 << 20,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.Recordings.NoShip = true })
	startAgent(t, s, "web-1")
	if err := s.Call(s.Admin, "admin", api.VerbUpdatePreferences, api.UpdateDocumentRequest{Content: streamingPrefs}, nil); err != nil {
		t.Fatal(err)
	}
	js, b := buckets(t, s)
	sh, err := ship.New(ship.Config{JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: up, Name: "streaming", Logger: brokertest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	st := ship.NewStreamer(sh)
	if st == nil {
		t.Fatal("the S3 backend does not stream")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = sh.Run(ctx) }()
	go func() { defer wg.Done(); _ = st.Run(ctx) }()
	t.Cleanup(func() { cancel(); polltest.Returns(t, time.Minute, "stopping the shippers", wg.Wait) })
	// The streamer must be consuming before the session starts (it takes new sessions).
	brokertest.WaitFor(t, 10*time.Second, "the streamer's consumer", func() bool {
		_, err := js.Consumer(t.Context(), "TETHER_EVENTS", ship.StreamerConsumer)
		return err == nil
	})

	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{
		Target: "web-1", Command: []string{"sh", "-c", "head -c 12582912 /dev/urandom; read x; echo done"},
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
	// While the session waits for input, two 5 MiB parts are in the bucket, and no object.
	brokertest.WaitFor(t, 30*time.Second, "parts uploaded while the session runs", func() bool {
		core := minio.Core{Client: m.Client()}
		for u := range m.Client().ListIncompleteUploads(t.Context(), "recordings", "", true) {
			if !strings.Contains(u.Key, id) || !strings.HasSuffix(u.Key, ".cast") {
				continue
			}
			parts, err := core.ListObjectParts(t.Context(), "recordings", u.Key, u.UploadID, 0, 100)
			if err == nil && len(parts.ObjectParts) >= 2 {
				return true
			}
		}
		return false
	})
	for obj := range m.Client().ListObjects(t.Context(), "recordings", minio.ListObjectsOptions{Recursive: true}) {
		if strings.Contains(obj.Key, id) {
			t.Fatalf("%s appeared before the session ended", obj.Key)
		}
	}
	pw.Write([]byte("go\n"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec := waitShipped(t, b, id)
	sum := sha256.Sum256(out.Bytes())
	if rec.OutputSHA256 != hex.EncodeToString(sum[:]) || rec.Frames != rec.OutFrames || rec.OutputBytes != int64(out.Len()) {
		t.Fatalf("streamed recording = %+v (client saw %d bytes)", rec, out.Len())
	}
	obj, err := up.Get(t.Context(), rec.Files[api.RecordingCast].Key)
	if err != nil {
		t.Fatal(err)
	}
	castFile, _ := io.ReadAll(obj)
	obj.Close()
	got := sha256.Sum256(castFile)
	if int64(len(castFile)) != rec.Files[api.RecordingCast].Bytes || hex.EncodeToString(got[:]) != rec.Files[api.RecordingCast].SHA256 {
		t.Fatal("the committed cast differs from its metadata")
	}
	// The shipper left the streamed session alone (it shipped nothing itself), and nothing
	// is left half-uploaded.
	brokertest.WaitFor(t, 20*time.Second, "the end event handled", func() bool {
		var st api.ShipStatusResponse
		return s.Call(s.Admin, "admin", api.VerbShipStatus, nil, &st) == nil && st.Pending == 0 && st.AckPending == 0
	})
	if e, err := b.Recordings.Get(t.Context(), ship.StatusKey("streaming")); err == nil {
		var st api.ShipperStatus
		if json.Unmarshal(e.Value(), &st) != nil || st.Shipped != 0 {
			t.Fatalf("the shipper shipped a streamed session again: %+v", st)
		}
	}
	if _, err := b.Recordings.Get(t.Context(), "stream."+id); err == nil {
		t.Fatal("the streaming lease outlived the session")
	}
	brokertest.WaitFor(t, 10*time.Second, "no incomplete uploads", func() bool {
		for range m.Client().ListIncompleteUploads(t.Context(), "recordings", "", true) {
			return false
		}
		return true
	})
}
