package control

import (
	"context"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/policies"
)

// authorize asks policy about action and turns a denial into an AccessDenied error that
// carries only the policy's public reasons.
func (s *Service) authorize(ctx context.Context, c caller, action string, in policies.Input) error {
	in.Principal = c.principal
	in.Action = action
	in.Time = s.now().UTC()
	d, err := s.cfg.Authorizer.Decide(ctx, in)
	if err != nil {
		s.log.Error("policy evaluation failed; denying", keyUser, c.name, keyVerb, action, "err", err)
		return &api.Error{Code: api.CodeAccessDenied, Message: action + " denied: the policy could not be evaluated"}
	}
	if !d.Allow {
		return &api.Error{Code: api.CodeAccessDenied, Message: action + " denied by policy", Reasons: d.Reasons}
	}
	return nil
}

func targetInput(in api.Instance) *policies.Target {
	return &policies.Target{ID: in.ID, Name: in.Name, Hostname: in.Hostname, OS: in.OS, Tags: in.Tags}
}

func sessionInput(se api.Session) *policies.Session {
	return &policies.Session{ID: se.ID, Owner: se.Owner, Target: se.Target}
}
