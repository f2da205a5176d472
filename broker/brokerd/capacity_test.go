package brokerd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/transcript"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// smallStream gives the broker a 1 MiB transcript stream that needs 256 KiB free for a
// session to start, and one instance may fill all of it.
func smallStream(o *brokerd.Options) {
	o.Limits.TranscriptMaxBytes = 1 << 20
	o.Limits.TranscriptReserve = 256 << 10
	o.Limits.AgentTranscriptBytes = 1 << 20
	o.CapacityEvery = 100 * time.Millisecond
}

func transcripts(t *testing.T, s *brokertest.Server) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), jsdef.StreamTranscripts)
	if err != nil {
		t.Fatal(err)
	}
	return js, st
}

func scrape(t *testing.T, s *brokertest.Server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.Metrics.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// With less than the reserve free in the transcript stream, no session starts: the start
// is refused with a clear error, counted, logged and published as an event, and the
// capacity shows in the ship status and the metrics. Once the stream has room, sessions
// start again.
func TestStartRefusedWhileTranscriptStreamFull(t *testing.T) {
	s := brokertest.NewServer(t, smallStream, func(o *brokerd.Options) { o.MetricsListen = "127.0.0.1:0" })
	startAgent(t, s, "web-1")
	js, st := transcripts(t, s)
	// Another instance's session fills the stream to 800 KiB.
	filler := subjects.ForSession("web-9", "bob", "bob-fill")
	for i := range 8 {
		if _, err := js.Publish(t.Context(), filler.Out, frame.Encode(frame.Frame{Type: frame.Stdout, Seq: uint64(i + 1), Payload: bytes.Repeat([]byte("x"), 100<<10)})); err != nil {
			t.Fatal(err)
		}
	}

	var refusal *api.Error
	brokertest.WaitFor(t, 10*time.Second, "a start refused with the stream full", func() bool {
		err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"true"}}, nil)
		return errors.As(err, &refusal)
	})
	if refusal.Code != api.CodeUnavailable {
		t.Errorf("refused with %s; want %s", refusal.Code, api.CodeUnavailable)
	}
	for _, want := range []string{"transcript stream TETHER_TRANSCRIPTS is full", "of 1048576 bytes used", "262144 bytes free", "tether admin ship status", "transcripts.max_bytes"} {
		if !strings.Contains(refusal.Message, want) {
			t.Errorf("the refusal %q does not say %q", refusal.Message, want)
		}
	}

	var status api.ShipStatusResponse
	if err := s.Call(s.Admin, "admin", api.VerbShipStatus, nil, &status); err != nil {
		t.Fatal(err)
	}
	c := status.Transcripts
	if c == nil || c.State != api.CapacityFull || c.MaxBytes != 1<<20 || c.Bytes < 800<<10 || c.Percent < 75 || c.RefusedStarts < 1 || c.ReserveBytes != 256<<10 {
		t.Errorf("ship status transcripts: %+v; want full, 1 MiB max, at least 800 KiB used, a refusal counted", c)
	}
	body := scrape(t, s)
	for _, want := range []string{"tether_transcripts_full 1\n", "tether_transcripts_max_bytes 1.048576e+06\n", "tether_sessions_refused_transcripts_full_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "tether_sessions_refused_transcripts_full_total 0\n") {
		t.Error("metrics count no refused start")
	}

	// The capacity events: the state became full, and a start was refused.
	evs, err := js.Stream(t.Context(), jsdef.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	// A state event may follow the refusal's: look through them all, not just the last.
	var sawRefused bool
	brokertest.WaitFor(t, 10*time.Second, "the refused start's event", func() bool {
		cons, err := evs.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subjects.TranscriptsEvent(events.Capacity)},
		})
		if err != nil {
			return false
		}
		batch, err := cons.FetchNoWait(100)
		if err != nil {
			return false
		}
		for m := range batch.Messages() {
			var ev struct {
				Type string             `json:"type"`
				Data events.Transcripts `json:"data"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != events.TranscriptsTypePrefix+events.Capacity || ev.Data.Stream != jsdef.StreamTranscripts {
				t.Fatalf("capacity event %s: %+v", ev.Type, ev.Data)
			}
			if ev.Data.Refused != nil && ev.Data.State == api.CapacityFull && ev.Data.Refused.Target == "web-1" && ev.Data.Refused.User == "admin" {
				sawRefused = true
			}
		}
		return sawRefused
	})

	// Room again: sessions start.
	if err := st.Purge(t.Context(), jetstream.WithPurgeSubject(filler.Out)); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, "a start once the stream has room", func() bool {
		return s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"true"}}, nil) == nil
	})
}

// A session printing more than the transcript stream can take ends at once as
// recording_failed, and its client printed nothing the stream does not hold.
func TestSessionEndsWhenItsRecordCannotBeKept(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	s := brokertest.NewServer(t, smallStream, func(o *brokerd.Options) { o.Recordings.NoShip = true })
	startAgent(t, s, "web-1")
	js, _ := transcripts(t, s)
	var start api.StartSessionResponse
	// 4 MB of output into a 1 MiB stream.
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1",
		Command: []string{"sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 4000000"}}, &start); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var client bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, _ = session.Run(ctx, s.Admin, start, session.Options{Stdout: &client, Stderr: io.Discard, NoStdin: true})
	var got api.GetSessionResponse
	brokertest.WaitFor(t, 30*time.Second, "the session's end", func() bool {
		return s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: start.Session.ID}, &got) == nil && got.Session.Ended()
	})
	took := time.Since(began)
	t.Logf("ended %s (%s) after %v; the client printed %d bytes", got.Session.Reason, got.Session.Detail, took, client.Len())
	if got.Session.Reason != api.ReasonRecordingFailed {
		t.Errorf("the session ended %s (%s); want %s", got.Session.Reason, got.Session.Detail, api.ReasonRecordingFailed)
	}
	if took > 5*time.Second {
		t.Errorf("the session ended %v after it started; want within a few seconds (not the 30 s of retries)", took)
	}

	sub := subjects.ForSession(start.Session.Target, start.Session.Owner, start.Session.ID)
	frames, _, err := transcript.ReadAll(t.Context(), transcript.NewDirect(js, jsdef.StreamTranscripts, 1, sub.Out, ""))
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	for _, f := range frames {
		if f.Type == frame.Stdout || f.Type == frame.Stderr {
			stored = append(stored, f.Payload...)
		}
	}
	if !bytes.HasPrefix(stored, client.Bytes()) {
		t.Errorf("the client printed %d bytes that are not a prefix of the %d the stream holds", client.Len(), len(stored))
	}
	if len(stored) >= 4000000 {
		t.Errorf("the stream holds all %d bytes: the test did not fill it", len(stored))
	}
}

// A shipped session leaves the transcript stream after the grace period, and is marked
// purged; a session not shipped stays however long ago it ended.
func TestShippedTranscriptLeavesTheStream(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	s := brokertest.NewServer(t, func(o *brokerd.Options) {
		o.Recordings.NoShip = true // the test plays the shipper
		o.Limits.ShippedGrace = time.Millisecond
		o.SweepEvery = 50 * time.Millisecond
	})
	startAgent(t, s, "web-1")
	js, st := transcripts(t, s)
	run := func(word string) api.Session {
		var start api.StartSessionResponse
		if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"echo", word}}, &start); err != nil {
			t.Fatal(err)
		}
		if code, err := session.Run(t.Context(), s.Admin, start, session.Options{Stdout: io.Discard, NoStdin: true}); err != nil || code != 0 {
			t.Fatalf("session: code %d, err %v", code, err)
		}
		var got api.GetSessionResponse
		brokertest.WaitFor(t, 30*time.Second, "the session's end", func() bool {
			return s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: start.Session.ID}, &got) == nil && got.Session.Ended() && got.Session.OutFrames > 0
		})
		return got.Session
	}
	held := func(se api.Session) uint64 {
		out := subjects.ForSession(se.Target, se.Owner, se.ID).Out
		info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(out))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[out]
	}
	unshipped := run("kept")
	shipped := run("shipped")
	if held(unshipped) == 0 || held(shipped) == 0 {
		t.Fatal("the stream does not hold the sessions' frames")
	}
	// The shipper's index entry, as it writes it once the recording is stored.
	kv, err := js.KeyValue(t.Context(), jsdef.BucketRecordings)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(api.Recording{SessionID: shipped.ID, Owner: shipped.Owner, Target: shipped.Target, ShippedAt: time.Now()})
	if _, err := kv.Put(t.Context(), ship.IndexKey(shipped.ID), rec); err != nil {
		t.Fatal(err)
	}
	var got api.GetSessionResponse
	brokertest.WaitFor(t, 10*time.Second, "the shipped session purged", func() bool {
		return s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: shipped.ID}, &got) == nil &&
			got.Session.Recording != nil && got.Session.Recording.Purged
	})
	if n := held(shipped); n != 0 {
		t.Errorf("the stream still holds %d frames of the shipped session", n)
	}
	// The sweep that purged it also saw the other, which ended earlier.
	if n := held(unshipped); n == 0 {
		t.Error("the stream removed a session that was never shipped")
	}
	var other api.GetSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: unshipped.ID}, &other); err != nil || other.Session.Recording.Purged {
		t.Errorf("the unshipped session is marked purged (%v)", err)
	}
	var status api.ShipStatusResponse
	if err := s.Call(s.Admin, "admin", api.VerbShipStatus, nil, &status); err != nil {
		t.Fatal(err)
	}
	if status.Transcripts == nil || status.Transcripts.ShippedPurged != 1 || status.Transcripts.State != api.CapacityOK {
		t.Errorf("ship status transcripts: %+v; want one shipped session purged, ok", status.Transcripts)
	}
}
