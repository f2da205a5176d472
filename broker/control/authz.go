package control

import (
	"context"
	"sort"
	"time"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/policies"
)

// decide asks policy about action, records the decision in the audit stream, and turns
// a denial into an AccessDenied error that carries only the policy's public reasons.
func (s *Service) decide(ctx context.Context, c caller, action string, in policies.Input) (policies.Decision, error) {
	return s.decideThen(ctx, c, action, in, nil)
}

// decideThen is decide for list requests: when allowed, filter runs before the decision
// is recorded, and the record counts the items it showed and hid (the per-item decisions
// of permits are summarised there rather than recorded one by one).
func (s *Service) decideThen(ctx context.Context, c caller, action string, in policies.Input, filter func() (shown, hidden int)) (policies.Decision, error) {
	in.Principal = c.principal
	in.Action = action
	in.Time = s.now().UTC()
	start := time.Now()
	d, err := s.cfg.Authorizer.Decide(ctx, in)
	took := time.Since(start)
	var shown, hidden *int
	if err == nil && d.Allow && filter != nil {
		sh, hi := filter()
		shown, hidden = &sh, &hi
	}
	s.audit(c, in, d, err, took, shown, hidden)
	if err != nil {
		s.log.Error("policy evaluation failed; denying", keyUser, c.name, keyVerb, action, "err", err)
		return d, &api.Error{Code: api.CodeAccessDenied, Message: action + " denied: the policy could not be evaluated"}
	}
	if !d.Allow {
		return d, &api.Error{Code: api.CodeAccessDenied, Message: action + " denied by policy", Reasons: d.Reasons}
	}
	return d, nil
}

// permitted serves a list request: it asks policy whether c may do action (list) at all,
// then keeps the items whose own question, itemAction with input(item), the policy allows.
// The list's audit record counts the items shown and hidden.
func permitted[T any](ctx context.Context, s *Service, c caller, action, itemAction string, items []T, input func(T) policies.Input) ([]T, error) {
	out := []T{}
	_, err := s.decideThen(ctx, c, action, policies.Input{}, func() (shown, hidden int) {
		for _, it := range items {
			if s.permits(ctx, c, itemAction, input(it)) {
				out = append(out, it)
			} else {
				hidden++
			}
		}
		return len(out), hidden
	})
	return out, err
}

// maxResults checks a list request's max_results (1-1000, default 100).
func maxResults(verb string, n int) (int, error) {
	if n < 0 || n > 1000 {
		return 0, badRequest("%s: max_results must be between 1 and 1000", verb)
	}
	if n == 0 {
		return 100, nil
	}
	return n, nil
}

// newestFirst sorts items by start time, newest first, and keeps at most max.
func newestFirst[T any](items []T, started func(T) time.Time, max int) []T {
	sort.Slice(items, func(i, j int) bool { return started(items[i]).After(started(items[j])) })
	return items[:min(len(items), max)]
}

// authorize is decide for requests whose obligations do not matter.
func (s *Service) authorize(ctx context.Context, c caller, action string, in policies.Input) error {
	_, err := s.decide(ctx, c, action, in)
	return err
}

// permits answers a per-item question of a list request (may c see this session, this
// instance, this document?) without recording it: the list request's own audit record
// counts the items shown and hidden.
func (s *Service) permits(ctx context.Context, c caller, action string, in policies.Input) bool {
	in.Principal = c.principal
	in.Action = action
	in.Time = s.now().UTC()
	d, err := s.cfg.Authorizer.Decide(ctx, in)
	return err == nil && d.Allow
}

func targetInput(in api.Instance) *policies.Target {
	return &policies.Target{ID: in.ID, Name: in.Name, Hostname: in.Hostname, OS: in.OS, Tags: in.Tags}
}

// recordingInput is a recording's session, for a recording whose session record may be gone.
func recordingInput(rec api.Recording) *policies.Session {
	return &policies.Session{ID: rec.SessionID, Owner: rec.Owner, Target: rec.Target, Document: rec.Document}
}

func sessionInput(se api.Session) *policies.Session {
	return &policies.Session{ID: se.ID, Owner: se.Owner, Target: se.Target, Document: se.Document}
}
