package control

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
)

// refusals counts the frames agents published for sessions that do not run on them: the
// server routes those to accounts.RefusedAll instead of the transcript stream (see
// accounts.Agent), and the control plane answers each with an error.
type refusals struct {
	sub *nats.Subscription

	mu       sync.Mutex
	total    uint64
	byTarget map[string]uint64
}

// maxRefusalTargets bounds the per-instance counts kept (instances are registered by
// admins, but a count must not grow without bound however it is fed).
const maxRefusalTargets = 1 << 16

func (s *Service) startRefusals() error {
	s.refused.byTarget = map[string]uint64{}
	sub, err := s.agentNC.Subscribe(accounts.RefusedAll, s.onRefused)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", accounts.RefusedAll, err)
	}
	_ = sub.SetPendingLimits(-1, 64<<20)
	s.refused.sub = sub
	return nil
}

func (s *Service) stopRefusals() {
	if s.refused.sub != nil {
		_ = s.refused.sub.Unsubscribe()
	}
}

// onRefused counts one refused frame, logs a sample, and tells the agent, whose
// JetStream publish fails with this error.
func (s *Service) onRefused(m *nats.Msg) {
	agent, original, ok := accounts.RefusedParts(m.Subject)
	if !ok {
		return
	}
	s.refused.mu.Lock()
	s.refused.total++
	if _, known := s.refused.byTarget[agent]; known || len(s.refused.byTarget) < maxRefusalTargets {
		s.refused.byTarget[agent]++
	}
	s.refused.mu.Unlock()
	if ok, suppressed := s.sampled.Allow("refused frame " + agent); ok {
		s.log.Warn("frame refused: the session does not run on this agent", logkey.InstanceID, agent,
			logkey.Subject, original, logkey.Bytes, len(m.Data), logkey.LogsSuppressed, suppressed)
	}
	if m.Reply != "" {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{
			"code": 403, "description": "refused: " + original + " " + accounts.RefusedDescription,
		}})
		_ = m.Respond(b)
	}
}

// RefusedFrames is how many frames agents published for sessions not running on them,
// since this control plane started: in all and by instance.
func (s *Service) RefusedFrames() (total uint64, byTarget map[string]uint64) {
	s.refused.mu.Lock()
	defer s.refused.mu.Unlock()
	byTarget = make(map[string]uint64, len(s.refused.byTarget))
	for k, v := range s.refused.byTarget {
		byTarget[k] = v
	}
	return s.refused.total, byTarget
}

// openGate lets every session's frames through: for a control plane on a NATS server
// that does not hold Tether's accounts.
type openGate struct{}

func (openGate) AllowSession(string, string, string) error { return nil }
func (openGate) EndSession(string, string)                 {}
