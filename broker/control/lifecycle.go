package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/session"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/retry"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// askAgentPatiently is askAgent for a start: an agent that is between connections (its
// last heartbeat still fresh, its control subject not yet subscribed again) gets until the
// agent timeout to come back, instead of failing the session at once.
func (s *Service) askAgentPatiently(ctx context.Context, agent string, req api.AgentControl) (api.AgentReply, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AgentTimeout)
	defer cancel()
	b := agentBack.Start()
	for {
		reply, err := s.askAgent(ctx, agent, req)
		if !errors.Is(err, nats.ErrNoResponders) {
			return reply, err
		}
		if b.Wait(ctx) != nil {
			return reply, err
		}
	}
}

// agentBack paces askAgentPatiently's attempts.
var agentBack = retry.Policy{Min: 20 * time.Millisecond, Max: 500 * time.Millisecond}

// askAgent sends a control request to an agent and decodes its reply.
func (s *Service) askAgent(ctx context.Context, agent string, req api.AgentControl) (api.AgentReply, error) {
	var reply api.AgentReply
	body, err := json.Marshal(req)
	if err != nil {
		return reply, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AgentTimeout)
	defer cancel()
	msg, err := s.nc.RequestWithContext(ctx, subjects.AgentControl(agent), body)
	if err != nil {
		return reply, fmt.Errorf("agent %s did not answer: %w", agent, err)
	}
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		return reply, fmt.Errorf("agent %s answered garbage: %w", agent, err)
	}
	return reply, nil
}

// setActive keeps the control plane's view of a session current, and with it the
// gate: an agent's frames reach the record only while their session is active.
func (s *Service) setActive(se api.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se.Ended() {
		s.cfg.Sessions.EndSession(se.Target, se.ID)
		delete(s.active, se.ID)
		if ch, ok := s.endedCh[se.ID]; ok {
			close(ch)
			delete(s.endedCh, se.ID)
		}
		if t, ok := s.limits[se.ID]; ok {
			t.Stop()
			delete(s.limits, se.ID)
		}
		return
	}
	if _, known := s.active[se.ID]; !known {
		if err := s.cfg.Sessions.AllowSession(se.Target, se.Owner, se.ID); err != nil {
			s.log.Error("admit the session's frames", logkey.SessionID, se.ID, logkey.Err, err)
		}
	}
	s.active[se.ID] = se
	if _, armed := s.limits[se.ID]; !armed && se.MaxDuration > 0 && !se.ConnectedAt.IsZero() && !s.closed {
		// The agent ends the session at its maximum duration; this is the broker's own
		// enforcement, a little later, for an agent that does not.
		left := se.ConnectedAt.Add(se.MaxDuration.Std() + maxDurationGrace).Sub(s.now())
		id := se.ID
		s.limits[id] = time.AfterFunc(max(left, 0), func() { s.enforceMaxDuration(id) })
	}
}

// maxDurationGrace is how long past a session's maximum duration the broker waits for the
// agent to end it before ending it itself.
const maxDurationGrace = 2 * time.Second

func (s *Service) enforceMaxDuration(id string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	delete(s.limits, id)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.AgentTimeout)
	defer cancel()
	s.log.Info("session reached its maximum duration", logkey.SessionID, id)
	s.endOnAgent(ctx, id, api.ReasonMaxDuration, "maximum session duration reached")
}

func sessionEnd(reason, detail string, code *int, frames, bytes uint64, at time.Time) session.End {
	return session.End{Reason: reason, Detail: detail, ExitCode: code, OutFrames: frames, OutBytes: bytes, At: at.UTC()}
}

// finish ends a session: it publishes the terminal event first (its id is derived from
// the session, so a retry is deduplicated by the stream), then stores the ended record.
// A crash between the two leaves the session active, and the next attempt redoes both.
func (s *Service) finish(ctx context.Context, id string, e session.End, actor string) (api.Session, error) {
	cur, _, err := getJSON[api.Session](ctx, s.b.Sessions, id)
	if err != nil {
		return cur, err
	}
	next, changed, err := session.Finish(cur, e)
	if err != nil {
		return cur, err
	}
	if changed {
		typ := events.Terminated
		if next.State == api.StateFailed {
			typ = events.Failed
		}
		if actor == "" {
			actor = next.TerminatedBy
		}
		if err := s.cfg.Emitter.Emit(ctx, typ, events.Data{Session: events.FromRecord(next), Actor: actor}); err != nil {
			return cur, err
		}
	}
	out, err := updateJSON(ctx, s.b.Sessions, id, func(v *api.Session) error {
		n, _, err := session.Finish(*v, e)
		*v = n
		return err
	})
	if err != nil {
		return out, err
	}
	s.setActive(out)
	if changed {
		s.log.Info("session ended", logkey.SessionID, id, logkey.Reason, out.Reason, logkey.State, out.State)
		s.announceEnd(ctx, out)
	}
	return out, nil
}

// announceEnd tells the session's client that the session is over, with the reason: an
// End frame on the session's output, stored in the transcript (after every frame of the
// record, since the session's gate is now closed) and so republished to the client. When
// the stream refuses it (it is full, or the record is what failed), the frame goes to the
// client live. The client learns of every end within a round trip of its being recorded.
func (s *Service) announceEnd(ctx context.Context, se api.Session) {
	code, why := se.EndStatus()
	data := frame.Encode(frame.Frame{Type: frame.End, Payload: frame.EncodeExit(frame.ExitStatus{Code: code, Reason: why})})
	ctx, cancel := context.WithTimeout(ctx, endAnnounceTimeout)
	defer cancel()
	_, err := s.js.Publish(ctx, subjects.ForSession(se.Target, se.Owner, se.ID).Out, data)
	if err == nil {
		return
	}
	s.log.Warn("record the end frame; sending it live only", logkey.SessionID, se.ID, logkey.Err, err)
	if err := s.nc.Publish(accounts.LiveOut(se.Target, se.Owner, se.ID), data); err != nil {
		s.log.Error("announce the end", logkey.SessionID, se.ID, logkey.Err, err)
	}
}

// endAnnounceTimeout bounds the wait for the stream to store an End frame.
const endAnnounceTimeout = 2 * time.Second

// endOnAgent asks the agent to end a session and records the end ourselves, so the
// session is over even if the agent never reports.
func (s *Service) endOnAgent(ctx context.Context, id, reason, detail string) {
	se, ok := s.activeSession(id)
	if !ok {
		return
	}
	reply, err := s.askAgent(ctx, se.Target, api.AgentControl{Terminate: &api.AgentTerminate{SessionID: id, Reason: reason}})
	if err == nil && reply.OK {
		// Give the agent a moment to drain the process's output and report, so the
		// client sees the Exit frame live and the record has the exit code.
		select {
		case <-s.whenEnded(id):
			return
		case <-time.After(agentReportWait):
		case <-ctx.Done():
		}
	}
	if _, err := s.finish(ctx, id, sessionEnd(reason, detail, nil, 0, 0, s.now()), ""); err != nil {
		s.log.Error("end session", logkey.SessionID, id, logkey.Err, err)
	}
}

// agentReportWait bounds how long ending a session waits for the agent's own report.
const agentReportWait = 3 * time.Second

// whenEnded returns a channel closed once session id is no longer active.
func (s *Service) whenEnded(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if _, active := s.active[id]; !active {
		close(ch)
		return ch
	}
	if old, ok := s.endedCh[id]; ok {
		return old
	}
	s.endedCh[id] = ch
	return ch
}

func (s *Service) activeSession(id string) (api.Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.active[id]
	return se, ok
}

// reconnectGrace is how much longer than AgentLostAfter a starting broker waits for the
// agents of the sessions it inherits: an agent retries its connection with a backoff
// capped at 10 s by default (tether-agent's ReconnectMax).
const reconnectGrace = 10 * time.Second

// monitor marks instances without heartbeats ConnectionLost and ends their sessions.
func (s *Service) monitor() {
	t := time.NewTicker(s.cfg.HeartbeatInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		s.mu.Lock()
		var ending []api.Session
		for id, se := range s.active {
			last, ok := s.lastSeen[se.Target]
			if !ok {
				// Not seen since this broker started: its agent may be waiting out its
				// reconnect backoff, and a broker outage must not end its sessions.
				last = s.started.Add(reconnectGrace)
			}
			if now.Sub(last) > s.cfg.AgentLostAfter && session.Active(se.State) {
				ending = append(ending, s.active[id])
			}
		}
		var newlyLost []string
		for id, last := range s.lastSeen {
			if now.Sub(last) > s.cfg.AgentLostAfter && !s.lost[id] {
				s.lost[id] = true
				newlyLost = append(newlyLost, id)
			}
		}
		s.mu.Unlock()
		for _, id := range newlyLost {
			s.log.Warn("agent connection lost", logkey.InstanceID, id)
		}
		for _, se := range ending {
			if _, err := s.finish(s.ctx, se.ID, sessionEnd(api.ReasonAgentLost, "no heartbeat from "+se.Target, nil, 0, 0, now), ""); err != nil {
				s.log.Error("end session of lost agent", logkey.SessionID, se.ID, logkey.Err, err)
			}
		}
	}
}
