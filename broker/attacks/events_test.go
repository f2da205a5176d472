package attacks_test

import (
	"context"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Only the control plane speaks on the events subjects. Consumers act on what arrives
// there (a notification that the transcript stream is full, a session's end, a forwarded
// connection), so a forged event is an attack on them: a user with no grant, a user with a
// running session, the agent that runs it and another agent each publish, plainly and
// through JetStream, a capacity event saying the stream is full, the end of that session
// and a forwarded connection of it. Each publish is a permissions violation, nothing is
// stored, and the session still runs.
func TestForgedEventsAreRefused(t *testing.T) {
	w := newWorld(t)
	x := w.agent(t, "web-1")
	rogue := w.agent(t, "rogue-1")
	x.keepAlive(100 * time.Millisecond)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	mallory := w.user(t, "mallory", nil, nil)
	start := w.startSession(t, alice.Conn, "alice", x.id)
	id := start.Session.ID

	forged := func(typ string, data any) []byte {
		b, err := json.Marshal(map[string]any{
			"specversion": "1.0", "id": "end." + id, "source": "tether/broker", "type": "dev.tether." + typ,
			"subject": id, "time": time.Now(), "datacontenttype": "application/json", "data": data,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	attempts := []struct {
		subject string
		body    []byte
	}{
		{subjects.TranscriptsEvent(events.Capacity), forged("transcripts.capacity",
			map[string]any{"stream": jsdef.StreamTranscripts, "state": "full", "percent": 100})},
		{subjects.SessionEvent("terminated"), forged("session.terminated",
			map[string]any{"session": map[string]any{"session_id": id, "status": "Terminated", "reason": "exit"}})},
		{subjects.SessionEvent(events.Forward), forged("session.forward",
			map[string]any{"forward": map[string]any{"session_id": id, "conn_id": 1, "dest": "169.254.169.254:80"}})},
	}
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	stored := func() map[string]uint64 {
		st, err := js.Stream(t.Context(), jsdef.StreamEvents)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(subjects.EventsAll))
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]uint64{}
		for _, a := range attempts {
			n[a.subject] = info.State.Subjects[a.subject]
		}
		return n
	}
	before, counts := w.snapshot(t), stored()

	for _, p := range []*conn{mallory, alice, x.conn, rogue.conn} {
		pjs, err := jetstream.New(p.Conn)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			if err := p.Publish(a.subject, a.body); err != nil {
				t.Fatalf("%s: publish: %v", p.name, err)
			}
			p.v.HasN(t, `"`+a.subject+`"`, 1)
			// Through JetStream: refused alike, so no acknowledgement ever comes; the
			// second violation is the proof, the short wait only spares the test time.
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			if ack, err := pjs.Publish(ctx, a.subject, a.body); err == nil {
				t.Errorf("%s: a JetStream publish on %s was stored: %+v", p.name, a.subject, ack)
			}
			cancel()
			p.v.HasN(t, `"`+a.subject+`"`, 2)
		}
	}

	if after := stored(); !maps.Equal(after, counts) {
		t.Errorf("events stored on the forged subjects: %v, were %v", after, counts)
	}
	w.unchanged(t, before, jsdef.StreamTranscripts, "KV_"+jsdef.BucketSessions, "KV_"+jsdef.BucketInstances)
	var got api.GetSessionResponse
	if err := w.Call(alice.Conn, "alice", api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Session.EndedAt.IsZero() {
		t.Errorf("session %s ended after forged events: %+v", id, got.Session)
	}
}
