package brokerd_test

import (
	"testing"

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
