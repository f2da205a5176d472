package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// policyEndpoints are the verbs on the policy itself.
func (s *Service) policyEndpoints() []endpoint {
	return []endpoint{
		policyVerb(s, api.VerbPushPolicy, api.VerbPushPolicy, api.MaxPolicyRequest, noInput[api.PushPolicyRequest], s.pushPolicy),
		policyVerb(s, api.VerbPolicyStatus, api.VerbPolicyStatus, api.MaxRequest, noInput[api.Empty], s.policyStatus),
		// Whom the evaluation is about is the decision's input.
		policyVerb(s, api.VerbEvaluatePolicy, api.VerbEvaluatePolicy, api.MaxRequest, prepareEvaluate, s.evaluatePolicy),
	}
}

// PolicyLoader compiles policy bundles and puts them in force.
type PolicyLoader interface {
	// Check compiles a bundle and runs its Rego tests without putting it in force, and
	// returns its revision. Its error names the file and line of each problem.
	Check(ctx context.Context, files []api.PolicyFile) (string, error)
	// Apply compiles a bundle and puts it in force; the bundle already in force is left
	// alone. It returns the bundle's revision.
	Apply(ctx context.Context, files []api.PolicyFile) (string, error)
	// Revision is the revision of the bundle in force.
	Revision() string
}

// Keys of the policy bucket.
const (
	policyBundleKey = "bundle"
	policyStatusKey = "status."
)

// storedBundle is the pushed bundle, as kept in the policy bucket.
type storedBundle struct {
	Info  api.PolicyBundleInfo `json:"info"`
	Files []api.PolicyFile     `json:"files"`
}

type policyState struct {
	mu sync.Mutex
	// applying orders the puts in force of pushed bundles: a push and this broker's own
	// watcher, which sees the same push, one after the other. admins are the keys of the
	// admins under the bundle in force, as last put in force.
	applying sync.Mutex
	admins   map[string]bool
	watcher  jetstream.KeyWatcher
	loadedAt time.Time
	lastErr  string
}

// startPolicy puts the pushed bundle, if any, in force and follows later pushes. A pushed
// bundle this broker cannot compile leaves the policy it started with in force, and the
// error shows in PolicyStatus.
func (s *Service) startPolicy(ctx context.Context) error {
	if s.cfg.Policy == nil {
		return nil
	}
	s.policy.loadedAt = s.now().UTC()
	// The watcher lives as long as the service, not as long as Start's context: nats.go
	// stops a watcher whose context ends.
	w, err := s.b.Policy.Watch(s.ctx, policyBundleKey)
	if err != nil {
		return fmt.Errorf("watch policy bundle: %w", err)
	}
	s.policy.watcher = w
	// The watcher delivers the current bundle first, then a nil marker, then updates.
	initial := true
	for initial {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				initial = false
				break
			}
			s.applyEntry(ctx, e)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.reportPolicy(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			s.applyEntry(s.ctx, e)
			s.reportPolicy(s.ctx)
		}
	}()
	return nil
}

func (s *Service) stopPolicy() {
	if w := s.policy.watcher; w != nil {
		_ = w.Stop()
	}
}

// applyEntry puts a pushed bundle in force.
func (s *Service) applyEntry(ctx context.Context, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var b storedBundle
	err := json.Unmarshal(e.Value(), &b)
	if err == nil {
		s.policy.applying.Lock()
		err = s.applyPolicy(ctx, b.Files)
		s.policy.applying.Unlock()
	}
	s.policy.mu.Lock()
	defer s.policy.mu.Unlock()
	if err != nil {
		s.policy.lastErr = fmt.Sprintf("bundle %s: %v", b.Info.Revision, err)
		s.log.Error("pushed policy bundle refused; the policy in force stays", logkey.Revision, b.Info.Revision, logkey.Err, err)
		return
	}
	s.policy.lastErr = ""
	s.policy.loadedAt = s.now().UTC()
	s.log.Info("policy bundle in force", logkey.Revision, b.Info.Revision, logkey.PushedBy, b.Info.PushedBy)
}

// applyPolicy puts a bundle in force. The connection-level rights of an admin (reading
// events live) are given when a connection is made: a user the new bundle makes or
// unmakes an admin is disconnected, and connects again with the rights it now has.
//
// The caller holds s.policy.applying.
func (s *Service) applyPolicy(ctx context.Context, files []api.PolicyFile) error {
	before := s.policy.admins
	if before == nil {
		before = s.dir.AdminKeys()
	}
	if _, err := s.cfg.Policy.Apply(ctx, files); err != nil {
		return err
	}
	after := s.dir.AdminKeys()
	s.policy.admins = after
	var changed []string
	for k := range before {
		if !after[k] {
			changed = append(changed, k)
		}
	}
	for k := range after {
		if !before[k] {
			changed = append(changed, k)
		}
	}
	if len(changed) > 0 {
		// The pusher may be one of them: its answer goes first.
		whenAnswered(ctx, func() {
			for _, k := range changed {
				s.log.Info("a pushed policy changed the user's admin rights: closing its connections, which get the new rights when they connect again", logkey.NKey, k)
				s.revoke(k)
			}
		})
	}
	return nil
}

var keyUnsafe = regexp.MustCompile(`[^-_=a-zA-Z0-9]`)

// reportPolicy records which bundle this broker evaluates, for PolicyStatus.
func (s *Service) reportPolicy(ctx context.Context) {
	s.policy.mu.Lock()
	st := api.BrokerPolicy{Server: s.cfg.ServerName, Revision: s.cfg.Policy.Revision(), LoadedAt: s.policy.loadedAt, Error: s.policy.lastErr}
	s.policy.mu.Unlock()
	key := policyStatusKey + keyUnsafe.ReplaceAllString(s.cfg.ServerName, "_")
	if err := putJSON(ctx, s.b.Policy, key, st); err != nil {
		s.log.Warn("report policy revision", logkey.Err, err)
	}
}

func (s *Service) pushPolicy(ctx context.Context, c caller, r *api.PushPolicyRequest, _ struct{}, _ *decision) (any, error) {
	if s.cfg.Policy == nil {
		return nil, &api.Error{Code: api.CodeUnavailable, Message: "this broker does not take pushed policies"}
	}
	if len(r.Files) == 0 {
		return nil, badRequest("PushPolicy: the bundle has no files")
	}
	rev, err := s.cfg.Policy.Check(ctx, r.Files)
	if err != nil {
		return nil, badRequest("policy bundle refused; the policy in force stays:\n%v", err)
	}
	info := api.PolicyBundleInfo{Revision: rev, Source: "pushed", PushedBy: c.name, PushedAt: s.now().UTC(), Files: len(r.Files)}
	// Put it in force here before answering, so the pusher's next request meets it and
	// the status shows it; the other brokers follow through their watchers. This
	// broker's own watcher waits: it must not put the bundle in force first, for the
	// admins it changes would be cut off before the pusher has its answer.
	s.policy.applying.Lock()
	err = putJSON(ctx, s.b.Policy, policyBundleKey, storedBundle{Info: info, Files: r.Files})
	if err == nil {
		if err = s.applyPolicy(ctx, r.Files); err != nil {
			err = fmt.Errorf("apply checked policy bundle %s: %w", rev, err)
		}
	}
	s.policy.applying.Unlock()
	if err != nil {
		return nil, err
	}
	s.policy.mu.Lock()
	s.policy.lastErr, s.policy.loadedAt = "", s.now().UTC()
	s.policy.mu.Unlock()
	s.reportPolicy(ctx)
	s.log.Info("policy bundle pushed", logkey.Revision, rev, logkey.User, c.name, logkey.Files, len(r.Files))
	return api.PushPolicyResponse{Bundle: info}, nil
}

func (s *Service) policyStatus(ctx context.Context, c caller, _ *api.Empty, _ struct{}, _ *decision) (any, error) {
	resp := api.PolicyStatusResponse{Brokers: []api.BrokerPolicy{}}
	if b, _, err := getJSON[storedBundle](ctx, s.b.Policy, policyBundleKey); err == nil {
		resp.Pushed = &b.Info
	} else if !errors.Is(err, errNotFound) {
		return nil, err
	}
	keys, err := listKeys(ctx, s.b.Policy)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, policyStatusKey) {
			continue
		}
		if st, _, err := getJSON[api.BrokerPolicy](ctx, s.b.Policy, k); err == nil {
			resp.Brokers = append(resp.Brokers, st)
		}
	}
	if s.cfg.Policy == nil {
		resp.Brokers = append(resp.Brokers, api.BrokerPolicy{Server: s.cfg.ServerName, Revision: s.policyRevision()})
	}
	sort.Slice(resp.Brokers, func(i, j int) bool { return resp.Brokers[i].Server < resp.Brokers[j].Server })
	return resp, nil
}

// prepareEvaluate: whom the evaluation is about is the decision's input (users may
// evaluate for themselves; for others, the policy says).
func prepareEvaluate(_ context.Context, c caller, r *api.EvaluatePolicyRequest) (policies.Input, struct{}, error) {
	if r.User == "" {
		r.User = c.name
	}
	if r.Action == "" {
		r.Action = api.VerbStartSession
	}
	if len(r.Action) > 64 {
		return policies.Input{}, struct{}{}, badRequest("EvaluatePolicy: action is longer than 64 bytes")
	}
	if err := subjects.ValidName(r.User); err != nil {
		return policies.Input{}, struct{}{}, badRequest("EvaluatePolicy: user: %v", err)
	}
	return policies.Input{Subject: &api.Principal{Name: r.User, Kind: "user"}}, struct{}{}, nil
}

func (s *Service) evaluatePolicy(ctx context.Context, c caller, r *api.EvaluatePolicyRequest, _ struct{}, _ *decision) (any, error) {
	u, ok := s.dir.User(r.User)
	if !ok {
		return nil, notFound("no user %.64q", r.User)
	}
	who := caller{name: u.Name, kind: "user", principal: api.Principal{Name: u.Name, Kind: "user", Groups: u.Groups, Attributes: u.Attributes}}
	in := policies.Input{}
	if r.Target != "" {
		inst, _, err := getJSON[storedInstance](ctx, s.b.Instances, r.Target)
		if errors.Is(err, errNotFound) {
			return nil, notFound("target %.64q is not a registered instance", r.Target)
		}
		if err != nil {
			return nil, err
		}
		in.Target = targetInput(inst)
	}
	if r.Document != "" || r.Action == api.VerbStartSession {
		sr := api.StartSessionRequest{Target: r.Target, Document: r.Document, Parameters: r.Parameters, Interactive: true}
		if ld, err := s.loadDocument(ctx, orDefault(r.Document, api.DocPreferences), 0); err != nil {
			return nil, err
		} else {
			sr.Interactive = ld.desc.SessionType != api.SessionTypeNonInteractive
			in.Document = docInput(ld.desc)
			in.Document.Parameters = r.Parameters
		}
		if p, err := s.planStart(ctx, &sr); err == nil {
			in.Document = startDocInput(p)
			in.Forwards = forwardsInput(p.forwards)
		}
	}
	if r.SessionID != "" {
		se, err := s.loadSession(ctx, r.SessionID)
		if err != nil {
			return nil, err
		}
		in.Session = sessionInput(se)
	}
	in.Principal, in.Action, in.Time = who.principal, r.Action, s.now().UTC()
	d, err := s.cfg.Authorizer.Decide(ctx, in)
	if err != nil {
		s.log.Warn("policy evaluation failed", logkey.User, r.User, logkey.Err, err)
	}
	raw, _ := json.Marshal(in)
	return api.EvaluatePolicyResponse{
		Allow: d.Allow && err == nil, Reasons: d.Reasons, Obligations: d.Obligations,
		Revision: s.policyRevision(), Input: raw,
	}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
