package clicmd

import (
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestRecordingsList(t *testing.T) {
	e := newEnv(t)
	var got []api.ListRecordingsRequest
	e.handle(api.VerbListRecordings, func(data []byte) (any, error) {
		got = append(got, decode[api.ListRecordingsRequest](t, data))
		a := stored("alice-2", []byte("x"), 1).rec
		a.Document, a.OutputBytes, a.Encryption = "Tether-StartInteractiveCommand", 12345, "age"
		b := stored("alice-1", []byte("x"), 1).rec
		b.EndedAt, b.Reason, b.Target = time.Time{}, "", "db\t1"
		return api.ListRecordingsResponse{Recordings: []api.Recording{a, b}}, nil
	})
	r := e.run("", "recordings", "list", "--target", "web-1", "--user", "alice", "--since", "2026-04-30T00:00:00Z", "--max-results", "5")
	want := "" +
		"SESSION ID  OWNER  TARGET  DOCUMENT                        START                 END                   REASON  BYTES  ENCRYPTION\n" +
		"alice-2     alice  web-1   Tether-StartInteractiveCommand  2026-05-01T12:00:00Z  2026-05-01T12:01:00Z  exit    12345  age\n" +
		"alice-1     alice  db?1    -                               2026-05-01T12:00:00Z  -                     -       0      -\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
	if want := (api.ListRecordingsRequest{Target: "web-1", User: "alice", Since: time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC), MaxResults: 5}); got[0] != want {
		t.Errorf("request %+v, want %+v", got[0], want)
	}

	before := time.Now()
	r = e.run("", "-o", "json", "recordings", "list", "--since", "24h")
	if resp := decode[api.ListRecordingsResponse](t, []byte(r.stdout)); r.code != 0 || len(resp.Recordings) != 2 || resp.Recordings[0].Encryption != "age" {
		t.Errorf("json: exit %d, %+v", r.code, resp)
	}
	if s := got[1].Since; s.Before(before.Add(-24*time.Hour-time.Second)) || s.After(time.Now().Add(-24*time.Hour)) {
		t.Errorf("--since 24h sent %v at %v", s, before)
	}
	if r := e.run("", "recordings", "list"); r.code != 0 || !got[2].Since.IsZero() {
		t.Errorf("no --since: exit %d, request %+v", r.code, got[2])
	}

	for _, tc := range []struct{ args, msg string }{
		{"yesterday", `--since "yesterday": want a duration ago like 24h, or an RFC 3339 time like 2026-05-01T00:00:00Z`},
		{"-1h", "--since -1h: the duration must be positive"},
	} {
		r := e.run("", "recordings", "list", "--since", tc.args)
		if want := "tether: " + tc.msg + "\nTry: tether recordings list --help\n"; r.code != 2 || r.stderr != want {
			t.Errorf("--since %s: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, want)
		}
	}
}

func TestShipStatus(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbShipStatus, func(data []byte) (any, error) {
		decode[api.Empty](t, data)
		return api.ShipStatusResponse{
			Pending: 3, AckPending: 1, Redelivered: 2, OldestWait: api.Duration(90 * time.Second),
			Shippers: []api.ShipperStatus{
				{Name: "broker-a", Backend: "s3://minio:9000/recordings", Shipped: 40, Failed: 2,
					LastShipped: "alice-7", LastAt: hb, LastError: "put alice-5.cast: 503\nretrying", ErrorAt: hb.Add(-time.Minute)},
				{Name: "broker-b", Backend: "dir:/var/lib/tether/recordings"},
			},
		}, nil
	})
	r := e.run("", "admin", "ship", "status")
	want := "" +
		"Pending:     3\n" +
		"AckPending:  1\n" +
		"Redelivered: 2\n" +
		"OldestWait:  1m30s\n" +
		"\n" +
		"NAME      BACKEND                         SHIPPED  FAILED  LAST SHIPPED                     LAST ERROR\n" +
		"broker-a  s3://minio:9000/recordings      40       2       alice-7 at 2026-05-01T12:00:00Z  2026-05-01T11:59:00Z: put alice-5.cast: 503?retrying\n" +
		"broker-b  dir:/var/lib/tether/recordings  0        0       -                                -\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
	r = e.run("", "-o", "json", "admin", "ship", "status")
	if resp := decode[api.ShipStatusResponse](t, []byte(r.stdout)); r.code != 0 || resp.Pending != 3 || len(resp.Shippers) != 2 {
		t.Errorf("json: exit %d, %+v", r.code, resp)
	}
}

// The transcript stream's capacity shows with the shipping it waits on.
func TestShipStatusTranscripts(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbShipStatus, func(data []byte) (any, error) {
		return api.ShipStatusResponse{Shippers: []api.ShipperStatus{}, Transcripts: &api.TranscriptCapacity{
			Bytes: 900, MaxBytes: 1000, Messages: 9, MaxMessages: -1, Percent: 90, ReserveBytes: 200,
			State: api.CapacityFull, RefusedStarts: 2,
		}}, nil
	})
	r := e.run("", "admin", "ship", "status")
	want := "Transcripts: 900 of 1000 bytes, 9 messages (90.0%): full, no session starts (one needs 200 bytes free); 2 sessions refused\n"
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant a line\n%s", r.code, r.stderr, r.stdout, want)
	}
}
