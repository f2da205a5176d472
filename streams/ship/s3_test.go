package ship_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/miniotest"
	"github.com/tetherhq/tether/streams/ship/store"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Against a real MinIO: the default preferences (s3EncryptionEnabled, as SSM's) refuse a
// bucket without default encryption; with it, recordings arrive. With the server down,
// sessions run on, their recordings wait in the stream, the failures show, and all of them
// arrive once it is back.
func TestShipsToS3ThroughAnOutage(t *testing.T) {
	m := miniotest.Start(t)
	m.MakeBucket("recordings")
	up, err := store.NewS3(t.Context(), store.S3Config{
		Endpoint: m.Endpoint(), Bucket: "recordings", Prefix: "tether", PathStyle: true,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.Recordings.NoShip = true })
	startAgent(t, s, "web-1")
	js, b := buckets(t, s)
	sh, err := ship.New(ship.Config{JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: up, Name: "s3",
		RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = sh.Run(ctx) }()
	t.Cleanup(func() { cancel(); polltest.Returns(t, time.Minute, "stopping the shippers", wg.Wait) })

	status := func() api.ShipStatusResponse {
		t.Helper()
		var st api.ShipStatusResponse
		if err := s.Call(s.Admin, "admin", api.VerbShipStatus, nil, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	failing := func(want string) func() bool {
		return func() bool {
			st := status()
			return len(st.Shippers) == 1 && st.Shippers[0].Failed > 0 && strings.Contains(st.Shippers[0].LastError, want) &&
				st.Pending+st.AckPending > 0
		}
	}

	first, _ := run(t, s, "web-1", "echo", "first")
	brokertest.WaitFor(t, 20*time.Second, "the refusal to upload unencrypted", failing("no default encryption"))
	if err := m.Client().SetBucketEncryption(t.Context(), "recordings", sse.NewConfigurationSSES3()); err != nil {
		t.Fatal(err)
	}
	waitShipped(t, b, first)

	m.Stop()
	var during []string
	for i := range 3 {
		id, out := run(t, s, "web-1", "echo", strings.Repeat("o", i+1))
		if strings.TrimSpace(string(out)) != strings.Repeat("o", i+1) {
			t.Fatalf("session during the outage printed %q", out)
		}
		during = append(during, id)
	}
	brokertest.WaitFor(t, 20*time.Second, "failures to show", failing(during[0]))
	if st := status(); st.OldestWait <= 0 && st.Pending+st.AckPending == 0 {
		t.Fatalf("status during the outage = %+v", st)
	}
	m.Restart()
	for _, id := range during {
		rec := waitShipped(t, b, id)
		body, err := up.Get(t.Context(), rec.Files[api.RecordingCast].Key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(body)
		body.Close()
		if err != nil || int64(len(data)) != rec.Files[api.RecordingCast].Bytes || !strings.HasPrefix(rec.Files[api.RecordingCast].Key, "") {
			t.Fatalf("cast of %s: %d bytes, %v", id, len(data), err)
		}
		if _, err := up.Get(t.Context(), strings.TrimSuffix(rec.Files[api.RecordingCast].Key, ".cast")+".json"); err != nil {
			t.Fatalf("metadata of %s: %v", id, err)
		}
	}
	brokertest.WaitFor(t, 10*time.Second, "nothing left to ship", func() bool {
		st := status()
		return st.Pending == 0 && st.AckPending == 0
	})
	if _, err := up.Get(t.Context(), "no/such/key"); !errors.Is(err, ship.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
}
