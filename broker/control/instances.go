package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/session"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

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
			s.log.Info("instance enrolled", keyAgent, inst.ID, "activation_id", actID)
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
		s.log.Info("instance enrolled", keyAgent, inst.ID, "activation_id", actID)
		return api.EnrollResponse{InstanceID: inst.ID}, nil
	}
	return nil, errors.New("could not allocate an instance id")
}

func (s *Service) register(ctx context.Context, c caller, r *api.RegisterRequest) (any, error) {
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
	s.log.Info("agent registered", keyAgent, c.name, "sessions", len(r.Sessions))
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
	if len(r.Sessions) > maxAgentSessions {
		return nil, badRequest("Heartbeat: %d sessions; the limit is %d", len(r.Sessions), maxAgentSessions)
	}
	if err := checkSessionIDs(api.VerbHeartbeat, r.Sessions); err != nil {
		return nil, err
	}
	// Only memory: a KV write per agent every few seconds would buy nothing, since
	// DescribeInstanceInformation derives the heartbeat and ping status from here.
	if wasLost := s.seen(c.name, s.now().UTC()); wasLost {
		s.log.Info("agent back online", keyAgent, c.name)
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
				s.log.Error("end lost session", keySession, id, "err", err)
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
	if _, err := s.finish(ctx, se.ID, sessionEnd(reason, r.Detail, &code, r.OutFrames, r.OutBytes, s.now()), ""); err != nil {
		return nil, err
	}
	return api.Empty{}, nil
}

func checkDescribeInstances(_ context.Context, _ caller, r *api.DescribeInstancesRequest) (policies.Input, struct{}, error) {
	if len(r.InstanceIDs) > 1000 {
		return policies.Input{}, struct{}{}, badRequest("DescribeInstanceInformation: at most 1000 instance ids")
	}
	return policies.Input{}, struct{}{}, nil
}

func (s *Service) describeInstances(ctx context.Context, c caller, r *api.DescribeInstancesRequest, _ struct{}, d *decision) (any, error) {
	all, err := listJSON[storedInstance](ctx, s.b.Instances)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range r.InstanceIDs {
		want[id] = true
	}
	var asked []storedInstance
	for _, in := range all {
		if len(want) == 0 || want[in.ID] {
			asked = append(asked, in)
		}
	}
	// Which instances the caller sees is the policy's call, instance by instance.
	out := permitted(ctx, s, c, d, api.VerbDescribeInstances, asked, func(in storedInstance) policies.Input {
		return policies.Input{Target: targetInput(in)}
	})
	admin := s.dir.IsAdmin(c.principal.Groups)
	views := make([]api.Instance, 0, len(out))
	for _, stored := range out {
		in := stored.view(admin)
		in.PingStatus = api.PingConnectionLost
		if last, ok := s.lastSeenAt(in.ID); ok {
			in.LastHeartbeat = last
			if s.online(in.ID) {
				in.PingStatus = api.PingOnline
			}
		}
		views = append(views, in)
	}
	sort.Slice(views, func(i, j int) bool { return views[i].ID < views[j].ID })
	return api.DescribeInstancesResponse{Instances: views}, nil
}

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
				last = s.started // not seen since this broker started
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
			s.log.Warn("agent connection lost", keyAgent, id)
		}
		for _, se := range ending {
			if _, err := s.finish(s.ctx, se.ID, sessionEnd(api.ReasonAgentLost, "no heartbeat from "+se.Target, nil, 0, 0, now), ""); err != nil {
				s.log.Error("end session of lost agent", keySession, se.ID, "err", err)
			}
		}
	}
}

func (s *Service) deregisterInstance(ctx context.Context, c caller, r *api.DeregisterInstanceRequest, _ struct{}, _ *decision) (any, error) {
	if subjects.ValidName(r.ID) != nil {
		return nil, badRequest("DeregisterInstance: %.70q is not an instance id", r.ID)
	}
	if _, _, err := getJSON[storedInstance](ctx, s.b.Instances, r.ID); errors.Is(err, errNotFound) {
		return nil, notFound("no instance %.64q", r.ID)
	} else if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var ids []string
	for id, se := range s.active {
		if se.Target == r.ID {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.endOnAgent(ctx, id, api.ReasonTerminated, "instance deregistered by "+c.name)
	}
	if err := s.b.Instances.Delete(ctx, r.ID); err != nil {
		return nil, fmt.Errorf("delete instance %s: %w", r.ID, err)
	}
	s.revoke(s.dir.RemoveAgent(r.ID))
	return api.Empty{}, nil
}

// revoke cuts the live connections of a key that no longer belongs to anyone.
func (s *Service) revoke(nkey string) {
	if nkey != "" {
		s.cfg.Revoke(nkey)
	}
}

// loadDirectory fills the auth hook's index from the buckets.
func (s *Service) loadDirectory(ctx context.Context) error {
	users, err := listJSON[api.User](ctx, s.b.Users)
	if err != nil {
		return err
	}
	for _, u := range users {
		s.dir.PutUser(u)
	}
	insts, err := listJSON[storedInstance](ctx, s.b.Instances)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if in.NKey != "" {
			s.dir.PutAgent(in.NKey, in.ID)
		}
	}
	acts, err := listJSON[storedActivation](ctx, s.b.Activations)
	if err != nil {
		return err
	}
	for _, a := range acts {
		s.dir.PutActivation(a.gate())
	}
	return nil
}

// watchDirectory follows changes other brokers make to users, instances and activations.
func (s *Service) watchDirectory() {
	watch := func(kv jetstream.KeyValue, put func([]byte), del func(key string)) {
		w, err := kv.WatchAll(s.ctx, jetstream.UpdatesOnly())
		if err != nil {
			s.log.Error("watch bucket", "bucket", kv.Bucket(), "err", err)
			return
		}
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-s.ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				if e.Operation() == jetstream.KeyValuePut {
					put(e.Value())
				} else {
					del(e.Key())
				}
			}
		}
	}
	done := make(chan struct{}, 3)
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Users, func(b []byte) {
			if u, err := unmarshal[api.User](b); err == nil {
				s.dir.PutUser(u)
			}
		}, func(name string) { s.revoke(s.dir.RemoveUser(name)) })
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Instances, func(b []byte) {
			if in, err := unmarshal[storedInstance](b); err == nil && in.NKey != "" {
				s.dir.PutAgent(in.NKey, in.ID)
			}
		}, func(id string) { s.revoke(s.dir.RemoveAgent(id)) })
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Activations, func(b []byte) {
			if a, err := unmarshal[storedActivation](b); err == nil {
				s.dir.PutActivation(a.gate())
			}
		}, s.dir.RemoveActivation)
	}()
	for range 3 {
		<-done
	}
}
