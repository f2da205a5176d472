package agent_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// The agent names itself with one run id, valid and the same in every Register and
// Heartbeat; when the broker answers that another process of this instance is
// registered, it stops on its own, ending its sessions, and Run returns ErrSecondAgent
// with the broker's reason.
func TestSecondAgentRefusedStops(t *testing.T) {
	e := newEnv(t)
	e.cp.heartbeat = 50 * time.Millisecond
	_, stop := e.runAgent(agent.Config{})
	c := e.startSession("alice-second", api.AgentStart{Command: []string{"sleep", "100"}})
	c.send(frame.Keepalive, nil)
	eventually(t, "two heartbeats", func() bool {
		e.cp.mu.Lock()
		defer e.cp.mu.Unlock()
		return len(e.cp.heartbeats) >= 2
	})
	e.cp.mu.Lock()
	run := e.cp.registers[0].RunID
	if err := api.ValidRunID(run); err != nil {
		t.Errorf("Register's run id %q: %v", run, err)
	}
	for _, h := range e.cp.heartbeats {
		if h.RunID != run {
			t.Errorf("a heartbeat with run id %q; Register said %q", h.RunID, run)
		}
	}
	const reason = "instance mi-test1 is registered to another agent process"
	e.cp.beatErr = &api.Error{Code: api.CodeConflict, Message: reason}
	e.cp.mu.Unlock()

	if st := c.waitExit(); st.Reason != api.ReasonAgentShutdown {
		t.Fatalf("the session's exit: %+v; want %s", st, api.ReasonAgentShutdown)
	}
	e.cp.waitEnded(t, c.id)
	err := stop()
	if !errors.Is(err, agent.ErrSecondAgent) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("Run: %v; want %v with the broker's reason", err, agent.ErrSecondAgent)
	}
}
