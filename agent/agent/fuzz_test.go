package agent

import (
	"encoding/json"
	"strings"
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

// FuzzProcessRecord: the records a crashed agent left are read as untrusted bytes. One
// that decodes names one process group (and the session its process leads, if any) of a
// process other than init, and says it again when written back.
func FuzzProcessRecord(f *testing.F) {
	good, _ := json.Marshal(processRecord{
		SessionID: "alice-1", PID: 4242, PGID: 4242, SID: 4242, StartTime: 987654,
		BootID: "0b4c2e63-5e6a-4bb5-9d1c-3a07c1c3d1f9", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	})
	pipes, _ := json.Marshal(processRecord{SessionID: "bob-2", PID: 77, PGID: 77, StartTime: 1, StartedAt: time.Unix(1, 0).UTC()})
	for _, seed := range []string{string(good), string(pipes), `{}`, `null`, `[]`, "\x00", `{"pid":1,"pgid":1}`,
		`{"session_id":"a","pid":2,"pgid":2,"sid":3,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`,
		`{"session_id":"a","pid":4194305,"pgid":4194305,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`,
		strings.Repeat(" ", maxRecord) + "{}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if subjects.ValidSessionID(r.SessionID) != nil || strings.ContainsAny(r.SessionID, "/.") {
			t.Fatalf("accepted session id %q", r.SessionID)
		}
		if r.PID <= 1 || r.PID > maxPID || r.PGID != r.PID || (r.SID != 0 && r.SID != r.PID) || r.StartTime == 0 || r.StartedAt.IsZero() {
			t.Fatalf("accepted %+v", r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeRecord(b)
		if err != nil || again.SessionID != r.SessionID || again.PID != r.PID || again.SID != r.SID ||
			again.StartTime != r.StartTime || again.BootID != r.BootID || !again.StartedAt.Equal(r.StartedAt) {
			t.Fatalf("round trip of %+v: %+v, %v", r, again, err)
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
