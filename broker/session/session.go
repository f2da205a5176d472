package session

import (
	"fmt"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

var allowed = map[string][]string{
	api.StateConnecting:  {api.StateConnected, api.StateTerminating, api.StateTerminated, api.StateFailed},
	api.StateConnected:   {api.StateTerminating, api.StateTerminated, api.StateFailed},
	api.StateTerminating: {api.StateTerminated, api.StateFailed},
	api.StateTerminated:  nil,
	api.StateFailed:      nil,
}

// Active reports whether a session in state may still produce output.
func Active(state string) bool {
	return state == api.StateConnecting || state == api.StateConnected || state == api.StateTerminating
}

// Transition checks that from → to is allowed.
func Transition(from, to string) error {
	next, ok := allowed[from]
	if !ok {
		return fmt.Errorf("unknown session state %q", from)
	}
	for _, n := range next {
		if n == to {
			return nil
		}
	}
	return fmt.Errorf("session cannot go from %s to %s", from, to)
}

// Connect marks s connected at t.
func Connect(s api.Session, t time.Time) (api.Session, error) {
	if err := Transition(s.State, api.StateConnected); err != nil {
		return s, err
	}
	s.State, s.ConnectedAt = api.StateConnected, t
	return s, nil
}

// Terminating marks s as being terminated by actor.
func Terminating(s api.Session, actor string) (api.Session, error) {
	if err := Transition(s.State, api.StateTerminating); err != nil {
		return s, err
	}
	s.State, s.TerminatedBy = api.StateTerminating, actor
	return s, nil
}

// failureReasons end a session as Failed rather than Terminated.
var failureReasons = map[string]bool{
	api.ReasonStartFailed:     true,
	api.ReasonRecordingFailed: true,
	api.ReasonAttachTimeout:   true,
}

// End is how a session finishes: exit, termination, agent loss, shutdown or failure.
type End struct {
	Reason    string
	Detail    string
	ExitCode  *int
	OutFrames uint64
	OutBytes  uint64
	At        time.Time
}

// Finish ends s. A session that already ended keeps its state and reason; only facts the
// agent reports late (exit code, frame counts) are filled in, and changed is false so no
// second event is published.
func Finish(s api.Session, e End) (out api.Session, changed bool, err error) {
	if s.Ended() {
		if s.ExitCode == nil && e.ExitCode != nil {
			s.ExitCode = e.ExitCode
		}
		if s.OutFrames == 0 && e.OutFrames > 0 {
			s.OutFrames, s.OutBytes = e.OutFrames, e.OutBytes
		}
		return s, false, nil
	}
	to := api.StateTerminated
	if failureReasons[e.Reason] {
		to = api.StateFailed
	}
	if err := Transition(s.State, to); err != nil {
		return s, false, err
	}
	s.State, s.Reason, s.Detail, s.EndedAt = to, e.Reason, e.Detail, e.At
	if s.TerminatedBy != "" && e.Reason == api.ReasonExit {
		// The process exited on its own while a termination was in flight: it was still
		// the termination that ended it.
		s.Reason = api.ReasonTerminated
	}
	s.ExitCode = e.ExitCode
	s.OutFrames, s.OutBytes = e.OutFrames, e.OutBytes
	return s, true, nil
}
