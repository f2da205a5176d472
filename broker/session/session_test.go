package session

import (
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestTransition(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{api.StateConnecting, api.StateConnected, true},
		{api.StateConnecting, api.StateFailed, true},
		{api.StateConnected, api.StateTerminating, true},
		{api.StateConnected, api.StateConnecting, false},
		{api.StateTerminating, api.StateTerminated, true},
		{api.StateTerminating, api.StateConnected, false},
		{api.StateTerminated, api.StateConnected, false},
		{api.StateFailed, api.StateTerminated, false},
		{"Bogus", api.StateTerminated, false},
	} {
		if err := Transition(tc.from, tc.to); (err == nil) != tc.ok {
			t.Errorf("Transition(%s, %s) = %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
	}
}

func TestFinish(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	code := func(i int) *int { return &i }
	for _, tc := range []struct {
		name        string
		in          api.Session
		end         End
		wantState   string
		wantReason  string
		wantChanged bool
	}{
		{"exit", api.Session{State: api.StateConnected}, End{Reason: api.ReasonExit, ExitCode: code(0), At: at}, api.StateTerminated, api.ReasonExit, true},
		{"start failed", api.Session{State: api.StateConnecting}, End{Reason: api.ReasonStartFailed, At: at}, api.StateFailed, api.ReasonStartFailed, true},
		{"terminate in flight", api.Session{State: api.StateTerminating, TerminatedBy: "bob"}, End{Reason: api.ReasonExit, At: at}, api.StateTerminated, api.ReasonTerminated, true},
		{"agent lost", api.Session{State: api.StateConnected}, End{Reason: api.ReasonAgentLost, At: at}, api.StateTerminated, api.ReasonAgentLost, true},
		{"already ended", api.Session{State: api.StateTerminated, Reason: api.ReasonBrokerShutdown}, End{Reason: api.ReasonExit, OutFrames: 9, At: at}, api.StateTerminated, api.ReasonBrokerShutdown, false},
	} {
		got, changed, err := Finish(tc.in, tc.end)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.State != tc.wantState || got.Reason != tc.wantReason || changed != tc.wantChanged {
			t.Errorf("%s: got state=%s reason=%s changed=%v, want %s %s %v", tc.name, got.State, got.Reason, changed, tc.wantState, tc.wantReason, tc.wantChanged)
		}
	}
	late, _, _ := Finish(api.Session{State: api.StateTerminated}, End{Reason: api.ReasonExit, ExitCode: code(3), OutFrames: 9})
	if late.ExitCode == nil || *late.ExitCode != 3 || late.OutFrames != 9 {
		t.Errorf("late facts not recorded: %+v", late)
	}
}
