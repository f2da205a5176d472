package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func FuzzControl(f *testing.F) {
	s := subjects.ForSession("mi-1", "alice", "alice-1")
	start, _ := json.Marshal(api.AgentControl{Start: &api.AgentStart{
		SessionID: "alice-1", Owner: "alice", Subjects: api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl},
		Command: []string{"ls", "-l"}, Cols: 80, Rows: 24, Window: 1 << 20,
	}})
	rin, _ := json.Marshal(api.AgentControl{Start: &api.AgentStart{
		SessionID: "alice-1", Owner: "alice", Subjects: api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl, Rin: s.Rin},
		RecordInput: true,
	}})
	term, _ := json.Marshal(api.AgentControl{Terminate: &api.AgentTerminate{SessionID: "alice-1", Reason: "bye"}})
	for _, seed := range []string{string(start), string(rin), string(term), `{}`, `{"start":{},"terminate":{}}`, `null`, `[]`, `{"start":null}`, "\x00"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeControl(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if (c.Start == nil) == (c.Terminate == nil) {
			t.Fatalf("accepted %q with start=%v terminate=%v", data, c.Start, c.Terminate)
		}
		if c.Start != nil {
			if subjects.ValidName(c.Start.SessionID) != nil || subjects.ValidName(c.Start.Owner) != nil {
				t.Fatalf("accepted invalid names: %+v", c.Start)
			}
			subs := []string{c.Start.Subjects.In, c.Start.Subjects.Out, c.Start.Subjects.Ctl}
			if c.Start.RecordInput {
				subs = append(subs, c.Start.Subjects.Rin)
			}
			for _, sub := range subs {
				if checkSubject(sub) != nil {
					t.Fatalf("accepted subject %q", sub)
				}
			}
		}
		if c.Terminate != nil && subjects.ValidName(c.Terminate.SessionID) != nil {
			t.Fatalf("accepted invalid session id %q", c.Terminate.SessionID)
		}
	})
}

// Reconnections, registrations and end reports wait about half a second at first, then
// double, jittered, never past ReconnectMax; a ReconnectMax below half a second caps even
// the first wait.
func TestReconnectPolicy(t *testing.T) {
	for _, tc := range []struct {
		max     time.Duration
		attempt int
		lo, hi  time.Duration
	}{
		{10 * time.Second, 1, 250 * time.Millisecond, 750 * time.Millisecond},
		{10 * time.Second, 3, time.Second, 3 * time.Second},
		{10 * time.Second, 10, 5 * time.Second, 10 * time.Second},
		{10 * time.Second, 1000, 5 * time.Second, 10 * time.Second},
		{200 * time.Millisecond, 1, 100 * time.Millisecond, 200 * time.Millisecond},
	} {
		for range 100 {
			if d := reconnectPolicy(tc.max).Delay(tc.attempt); d < tc.lo || d > tc.hi {
				t.Fatalf("max %v, attempt %d: delay %v, want within [%v, %v]", tc.max, tc.attempt, d, tc.lo, tc.hi)
			}
		}
	}
}
