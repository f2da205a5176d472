package brokerd_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// A session ends once in the record, however often its end is published: a terminal
// event repeated (a retried SessionEnded, a finish redone after its record update failed,
// another broker) is stored once, while every start is its own event.
func TestTerminalEventStoredOnce(t *testing.T) {
	s := brokertest.NewServer(t)
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	stored := func(typ string) uint64 {
		t.Helper()
		st, err := js.Stream(t.Context(), jsdef.StreamEvents)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(subjects.SessionEvent(typ)))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[subjects.SessionEvent(typ)]
	}
	one := events.Session{ID: "alice-0001", Owner: "alice", Target: "web-1", State: api.StateTerminated, Reason: api.ReasonExit}
	other := one
	other.ID = "alice-0002"
	for i, e := range []*events.Emitter{{JS: js, Source: "tether-broker/a"}, {JS: js, Source: "tether-broker/a"}, {JS: js, Source: "tether-broker/b"}} {
		if err := e.Emit(t.Context(), events.Terminated, events.Data{Session: one}); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
		if err := e.Emit(t.Context(), events.Started, events.Data{Session: one}); err != nil {
			t.Fatalf("emit start %d: %v", i, err)
		}
	}
	failed := one
	failed.State, failed.Reason = api.StateFailed, api.ReasonAgentLost
	if err := (&events.Emitter{JS: js, Source: "tether-broker/c"}).Emit(t.Context(), events.Failed, events.Data{Session: failed}); err != nil {
		t.Fatal(err)
	}
	if err := (&events.Emitter{JS: js, Source: "tether-broker/c"}).Emit(t.Context(), events.Terminated, events.Data{Session: other}); err != nil {
		t.Fatal(err)
	}
	if n := stored(events.Terminated); n != 2 {
		t.Errorf("terminated events stored: %d, want one per session (2)", n)
	}
	if n := stored(events.Failed); n != 0 {
		t.Errorf("a failed event after the session's terminated one was stored (%d): a session has one end", n)
	}
	if n := stored(events.Started); n != 3 {
		t.Errorf("started events stored: %d, want each (3)", n)
	}
}

// end_date is when the session ended, not when the broker heard: an agent that reports
// its end late (through a broker outage) and again keeps the first report's time, one
// terminal event is stored, and a clock that says the future or the past before the start
// is kept within the session's life.
func TestEndDateIsWhenTheSessionEnded(t *testing.T) {
	s := brokertest.NewServer(t)
	agent := newFakeAgent(t, s, "web-1")
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	start := func() api.Session {
		t.Helper()
		var r api.StartSessionResponse
		if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"true"}}, &r); err != nil {
			t.Fatal(err)
		}
		return r.Session
	}
	report := func(sid string, at time.Time) {
		t.Helper()
		err := api.Call(t.Context(), agent.nc, subjects.AgentAPI(agent.id, api.VerbSessionEnded),
			api.SessionEndedRequest{SessionID: sid, Reason: api.ReasonExit, OutFrames: 1, EndedAt: at}, nil)
		if err != nil {
			t.Fatalf("SessionEnded: %v", err)
		}
	}
	ended := func(sid string) time.Time {
		t.Helper()
		var got api.GetSessionResponse
		if err := s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: sid}, &got); err != nil {
			t.Fatal(err)
		}
		return got.Session.EndedAt
	}

	late := start()
	at := time.Now().UTC().Add(-time.Second).Truncate(time.Millisecond)
	if at.Before(late.StartedAt) {
		at = late.StartedAt
	}
	report(late.ID, at)
	report(late.ID, at.Add(time.Second)) // the same end, retried: changes nothing
	if got := ended(late.ID); !got.Equal(at) {
		t.Errorf("end_date %v, want the reported %v", got, at)
	}
	st, err := js.Stream(t.Context(), jsdef.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(subjects.SessionEvent(events.Terminated)))
	if err != nil || info.State.Subjects[subjects.SessionEvent(events.Terminated)] != 1 {
		t.Errorf("terminated events stored for one session: %v (%v)", info.State.Subjects, err)
	}

	future := start()
	report(future.ID, time.Now().Add(time.Hour))
	if got := ended(future.ID); got.After(time.Now()) {
		t.Errorf("end_date %v is in the future", got)
	}
	past := start()
	report(past.ID, past.StartedAt.Add(-time.Hour))
	if got := ended(past.ID); !got.Equal(past.StartedAt) {
		t.Errorf("end_date %v, want the start %v for a clock behind it", got, past.StartedAt)
	}
}
