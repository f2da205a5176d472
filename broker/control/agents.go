package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// agentEndpoints are the verbs agents call about themselves: no policy, the server put
// the connection in the account of the instance (or, enrolling, the activation key) the
// subject names, and the handler acts on that one alone.
func (s *Service) agentEndpoints() []endpoint {
	return []endpoint{
		selfVerb(accounts.KindAgent, api.VerbRegister, api.MaxRequest, s.register),
		selfVerb(accounts.KindAgent, api.VerbHeartbeat, api.MaxRequest, s.heartbeat),
		selfVerb(accounts.KindAgent, api.VerbSessionEnded, api.MaxRequest, s.sessionEnded),
		selfVerb(accounts.KindEnrollment, "Enroll", api.MaxRequest, s.enroll),
	}
}

// checkHostFacts bounds what an agent says about its host.
func checkHostFacts(verb, hostname, os, arch, version string) error {
	if len(hostname) > 255 || len(os) > 64 || len(arch) > 64 || len(version) > 64 {
		return badRequest("%s: hostname, os, arch or agent_version too long (255, 64, 64 and 64 bytes at most)", verb)
	}
	return nil
}

func (s *Service) enroll(ctx context.Context, c caller, r *api.EnrollRequest) (any, error) {
	if err := checkHostFacts("Enroll", r.Hostname, r.OS, r.Arch, r.AgentVersion); err != nil {
		return nil, err
	}
	actID, nkey := c.principal.Name, c.name
	if s.dir.KeyInUse(nkey) {
		return nil, &api.Error{Code: api.CodeConflict, Message: "this key is already enrolled"}
	}
	// Claim one registration of the activation atomically: two agents racing for the
	// last registration cannot both win.
	act, err := updateJSON(ctx, s.b.Activations, actID, func(a *storedActivation) error {
		if a.Used >= a.Limit {
			return &api.Error{Code: api.CodeAccessDenied, Message: "activation " + actID + " has no registrations left"}
		}
		if !s.now().Before(a.ExpiresAt) {
			return &api.Error{Code: api.CodeAccessDenied, Message: "activation " + actID + " expired"}
		}
		a.Used++
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, &api.Error{Code: api.CodeAccessDenied, Message: "activation " + actID + " does not exist"}
	}
	if err != nil {
		return nil, err
	}
	s.dir.PutActivation(act.gate())
	now := s.now().UTC()
	inst := storedInstance{
		Name: act.DefaultInstanceName, Hostname: r.Hostname, OS: r.OS, Arch: r.Arch,
		AgentVersion: r.AgentVersion, Tags: act.Tags, RegisteredAt: now, ActivationID: actID, NKey: nkey,
	}
	if act.DefaultInstanceName != "" {
		inst.ID = act.DefaultInstanceName
		if err := createJSON(ctx, s.b.Instances, inst.ID, inst); err == nil {
			s.dir.PutAgent(nkey, inst.ID)
			s.log.Info("instance enrolled", logkey.InstanceID, inst.ID, logkey.ActivationID, actID)
			return api.EnrollResponse{InstanceID: inst.ID}, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
	}
	for range 5 {
		b := make([]byte, 9)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		inst.ID = "mi-" + hex.EncodeToString(b)[:17]
		err := createJSON(ctx, s.b.Instances, inst.ID, inst)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.dir.PutAgent(nkey, inst.ID)
		s.log.Info("instance enrolled", logkey.InstanceID, inst.ID, logkey.ActivationID, actID)
		return api.EnrollResponse{InstanceID: inst.ID}, nil
	}
	return nil, errors.New("could not allocate an instance id")
}

func (s *Service) register(ctx context.Context, c caller, r *api.RegisterRequest) (any, error) {
	if err := api.ValidRunID(r.RunID); err != nil {
		return nil, badRequest("Register: %v", err)
	}
	if err := checkHostFacts(api.VerbRegister, r.Hostname, r.OS, r.Arch, r.AgentVersion); err != nil {
		return nil, err
	}
	if len(r.Sessions) > maxAgentSessions || len(r.IPAddresses) > 64 {
		return nil, badRequest("Register: %d sessions and %d addresses; the limits are %d and 64", len(r.Sessions), len(r.IPAddresses), maxAgentSessions)
	}
	for _, ip := range r.IPAddresses {
		if len(ip) > 64 {
			return nil, badRequest("Register: ip address %.64q… is longer than 64 bytes", ip)
		}
	}
	if err := checkSessionIDs(api.VerbRegister, r.Sessions); err != nil {
		return nil, err
	}
	// Before anything changes: a second agent process with this key is refused here,
	// and the first one's record and sessions stay as they are.
	if err := s.claimRun(c, r.RunID, r.Hostname); err != nil {
		if ok, suppressed := s.sampled.Allow("second agent " + c.name); ok {
			s.log.Warn("refused a second agent process with the key of a connected instance", logkey.InstanceID, c.name,
				logkey.RunID, r.RunID, logkey.Remote, c.sourceIP, logkey.CID, c.conn, logkey.LogsSuppressed, suppressed)
		}
		return nil, err
	}
	now := s.now().UTC()
	_, err := updateJSON(ctx, s.b.Instances, c.name, func(in *storedInstance) error {
		in.Hostname, in.OS, in.Arch, in.AgentVersion = r.Hostname, r.OS, r.Arch, r.AgentVersion
		in.IPAddresses = r.IPAddresses
		in.LastHeartbeat = now // kept across broker restarts; live heartbeats stay in memory
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, &api.Error{Code: api.CodeNotFound, Message: "instance " + c.name + " is not registered; enroll again"}
	}
	if err != nil {
		return nil, err
	}
	s.seen(c.name, now)
	s.log.Info("agent registered", logkey.InstanceID, c.name, logkey.RunID, r.RunID, logkey.Sessions, len(r.Sessions))
	return api.RegisterResponse{
		InstanceID: c.name, HeartbeatInterval: s.cfg.HeartbeatInterval,
		EndSessions: s.reconcile(ctx, c.name, r.Sessions, true),
	}, nil
}

// maxAgentSessions bounds the sessions one agent may report running.
const maxAgentSessions = 10000

// checkSessionIDs refuses a list of session ids with one that is not a session id.
func checkSessionIDs(verb string, ids []string) error {
	for _, id := range ids {
		if err := subjects.ValidSessionID(id); err != nil {
			return badRequest("%s: sessions: %v", verb, err)
		}
	}
	return nil
}

func (s *Service) heartbeat(ctx context.Context, c caller, r *api.HeartbeatRequest) (any, error) {
	if err := api.ValidRunID(r.RunID); err != nil {
		return nil, badRequest("Heartbeat: %v", err)
	}
	if len(r.Sessions) > maxAgentSessions {
		return nil, badRequest("Heartbeat: %d sessions; the limit is %d", len(r.Sessions), maxAgentSessions)
	}
	if err := checkSessionIDs(api.VerbHeartbeat, r.Sessions); err != nil {
		return nil, err
	}
	if err := s.checkRun(c, r.RunID); err != nil {
		return nil, err
	}
	// Only memory: a KV write per agent every few seconds would buy nothing, since
	// DescribeInstanceInformation derives the heartbeat and ping status from here.
	if wasLost := s.seen(c.name, s.now().UTC()); wasLost {
		s.log.Info("agent back online", logkey.InstanceID, c.name)
	}
	return api.HeartbeatResponse{EndSessions: s.reconcile(ctx, c.name, r.Sessions, false)}, nil
}

// reconcile compares what an agent runs with what we think: sessions the agent runs that
// are over for us must end there; on (re)registration, connected sessions the agent no
// longer has ended while we were not looking.
func (s *Service) reconcile(ctx context.Context, agent string, running []string, registering bool) []string {
	has := map[string]bool{}
	for _, id := range running {
		has[id] = true
	}
	var end []string
	for _, id := range running {
		if _, ok := s.activeSession(id); ok {
			continue
		}
		se, _, err := getJSON[api.Session](ctx, s.b.Sessions, id)
		if err == nil && !se.Ended() && se.Target == agent {
			continue
		}
		end = append(end, id)
	}
	if registering {
		s.mu.Lock()
		var lost []string
		for id, se := range s.active {
			if se.Target == agent && se.State != api.StateConnecting && !has[id] {
				lost = append(lost, id)
			}
		}
		s.mu.Unlock()
		for _, id := range lost {
			if _, err := s.finish(ctx, id, sessionEnd(api.ReasonAgentRestarted, "the agent no longer runs this session", nil, 0, 0, s.now()), ""); err != nil {
				s.log.Error("end lost session", logkey.SessionID, id, logkey.Err, err)
			}
		}
	}
	sort.Strings(end)
	return end
}

// seen records a heartbeat and reports whether the instance had been marked lost.
func (s *Service) seen(id string, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeen[id] = t
	was := s.lost[id]
	delete(s.lost, id)
	return was
}

func (s *Service) lastSeenAt(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.lastSeen[id]
	return t, ok
}

func (s *Service) online(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.lastSeen[id]
	return ok && s.now().Sub(t) <= s.cfg.AgentLostAfter
}

func (s *Service) sessionEnded(ctx context.Context, c caller, r *api.SessionEndedRequest) (any, error) {
	if len(r.Reason) > 64 || len(r.Detail) > 1024 {
		return nil, badRequest("SessionEnded: reason or detail too long")
	}
	se, err := s.loadSession(ctx, r.SessionID)
	if err != nil {
		return nil, err
	}
	if se.Target != c.name {
		return nil, &api.Error{Code: api.CodeAccessDenied, Message: "session " + r.SessionID + " does not run on " + c.name}
	}
	reason := r.Reason
	if reason == "" {
		reason = api.ReasonExit
	}
	code := r.ExitCode
	if _, err := s.finish(ctx, se.ID, sessionEnd(reason, r.Detail, &code, r.OutFrames, r.OutBytes, endedAt(se, r.EndedAt, s.now())), ""); err != nil {
		return nil, err
	}
	return api.Empty{}, nil
}

// endedAt is a session's end_date from the agent's report: when the process ended, which
// may be well before a report retried through a broker outage, kept within what the
// broker saw of the session (not before its start, not after now) whatever the agent's
// clock says. A report without it ends the session now.
func endedAt(se api.Session, reported, now time.Time) time.Time {
	if reported.IsZero() || reported.After(now) {
		return now
	}
	if reported.Before(se.StartedAt) {
		return se.StartedAt
	}
	return reported
}
