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

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/broker/session"
	"github.com/tetherhq/tether/policies"
)

func (s *Service) enroll(ctx context.Context, c caller, data []byte) (any, error) {
	var r api.EnrollRequest
	if err := decode("Enroll", data, &r); err != nil {
		return nil, err
	}
	if len(r.Hostname) > 255 || len(r.OS) > 64 || len(r.Arch) > 64 || len(r.AgentVersion) > 64 {
		return nil, badRequest("Enroll: hostname, os, arch or agent_version too long")
	}
	actID, nkey := c.principal.Name, c.name
	if s.dir.KeyInUse(nkey) {
		return nil, &api.Error{Code: api.CodeConflict, Message: "this key is already enrolled"}
	}
	// Claim one registration of the activation atomically: two agents racing for the
	// last registration cannot both win.
	act, err := updateJSON(ctx, s.b.Activations, actID, func(a *api.Activation) error {
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
	s.dir.PutActivation(act)
	now := s.now().UTC()
	inst := api.Instance{
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

func (s *Service) register(ctx context.Context, c caller, data []byte) (any, error) {
	var r api.RegisterRequest
	if err := decode(api.VerbRegister, data, &r); err != nil {
		return nil, err
	}
	if len(r.Sessions) > 10000 || len(r.IPAddresses) > 64 {
		return nil, badRequest("Register: too many sessions or addresses")
	}
	now := s.now().UTC()
	_, err := updateJSON(ctx, s.b.Instances, c.name, func(in *api.Instance) error {
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

func (s *Service) heartbeat(ctx context.Context, c caller, data []byte) (any, error) {
	var r api.HeartbeatRequest
	if err := decode(api.VerbHeartbeat, data, &r); err != nil {
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

func (s *Service) sessionEnded(ctx context.Context, c caller, data []byte) (any, error) {
	var r api.SessionEndedRequest
	if err := decode(api.VerbSessionEnded, data, &r); err != nil {
		return nil, err
	}
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

func (s *Service) describeInstances(ctx context.Context, c caller, data []byte) (any, error) {
	var r api.DescribeInstancesRequest
	if err := decode(api.VerbDescribeInstances, data, &r); err != nil {
		return nil, err
	}
	if len(r.InstanceIDs) > 1000 {
		return nil, badRequest("DescribeInstanceInformation: at most 1000 instance ids")
	}
	all, err := listJSON[api.Instance](ctx, s.b.Instances)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range r.InstanceIDs {
		want[id] = true
	}
	var asked []api.Instance
	for _, in := range all {
		if len(want) == 0 || want[in.ID] {
			asked = append(asked, in)
		}
	}
	// Which instances the caller sees is the policy's call, instance by instance.
	out, err := permitted(ctx, s, c, api.VerbDescribeInstances, api.VerbDescribeInstances, asked, func(in api.Instance) policies.Input {
		return policies.Input{Target: targetInput(in)}
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		in := &out[i]
		in.PingStatus = api.PingConnectionLost
		if last, ok := s.lastSeenAt(in.ID); ok {
			in.LastHeartbeat = last
			if s.online(in.ID) {
				in.PingStatus = api.PingOnline
			}
		}
		if !c.principal.IsAdmin() {
			in.NKey, in.ActivationID = "", ""
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return api.DescribeInstancesResponse{Instances: out}, nil
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

func (s *Service) deregisterInstance(ctx context.Context, c caller, data []byte) (any, error) {
	var r api.DeregisterInstanceRequest
	if err := decode(api.VerbDeregisterInstance, data, &r); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, api.VerbDeregisterInstance, policies.Input{}); err != nil {
		return nil, err
	}
	if _, _, err := getJSON[api.Instance](ctx, s.b.Instances, r.ID); errors.Is(err, errNotFound) {
		return nil, notFound("no instance %q", r.ID)
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
	insts, err := listJSON[api.Instance](ctx, s.b.Instances)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if in.NKey != "" {
			s.dir.PutAgent(in.NKey, in.ID)
		}
	}
	acts, err := listJSON[api.Activation](ctx, s.b.Activations)
	if err != nil {
		return err
	}
	for _, a := range acts {
		s.dir.PutActivation(a)
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
			if in, err := unmarshal[api.Instance](b); err == nil && in.NKey != "" {
				s.dir.PutAgent(in.NKey, in.ID)
			}
		}, func(id string) { s.revoke(s.dir.RemoveAgent(id)) })
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Activations, func(b []byte) {
			if a, err := unmarshal[api.Activation](b); err == nil {
				s.dir.PutActivation(a)
			}
		}, s.dir.RemoveActivation)
	}()
	for range 3 {
		<-done
	}
}
