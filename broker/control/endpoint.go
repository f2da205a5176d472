package control

import (
	"context"
	"fmt"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
)

// authz is how an endpoint is authorized. The zero value is no declaration at all, which
// the dispatcher refuses to register.
type authz int

const (
	_ authz = iota
	// byPolicy: the policy decides the endpoint's action, on the decision input the
	// endpoint builds from the request, before the handler runs.
	byPolicy
	// bySelf: an agent or an enrolling agent speaking for itself. The server placed the
	// connection in the account of the instance (or activation) it names, the dispatcher
	// checks that the subject names the same one, and the handler acts on that one alone.
	bySelf
	// byOwnerPolicy: an agent asks about a session of its own (checked as bySelf, and
	// the session must run on it), and the policy decides the endpoint's action for the
	// session's owner, on the decision input the endpoint builds; the decision is
	// recorded and answered, not turned into an error.
	byOwnerPolicy
)

func (a authz) String() string {
	switch a {
	case byPolicy:
		return "policy"
	case bySelf:
		return "self"
	case byOwnerPolicy:
		return "owner's policy"
	}
	return "undeclared"
}

// endpoint is one API verb as the dispatcher serves it. Endpoints are made by policyVerb
// and selfVerb only, so that each one declares who calls it and how it is authorized.
type endpoint struct {
	kind   accounts.Kind
	verb   string
	authz  authz
	action string // the policy action of a byPolicy endpoint
	limit  int    // the largest request body accepted
	// ownPool: the requests are counted in a pool of their own (the port forwarding
	// connections'), not in their kind of caller's.
	ownPool bool
	serve   func(ctx context.Context, c caller, body []byte) (any, error)
}

// decision is an allowed policy decision, handed to the handler. A list endpoint counts
// the items it showed and hid in it; the audit record, written once the handler is done,
// carries the counts.
type decision struct {
	policies.Decision
	shown, hidden *int
}

// count records how many items of a list the handler showed and hid.
func (d *decision) count(shown, hidden int) { d.shown, d.hidden = &shown, &hidden }

// prepareFunc checks a decoded request and builds its decision input, loading what the
// decision needs (the session, its instance, the document); what it loads is handed to
// the handler as St.
type prepareFunc[Req, St any] func(ctx context.Context, c caller, r *Req) (policies.Input, St, error)

// handleFunc serves a request the policy allowed.
type handleFunc[Req, St any] func(ctx context.Context, c caller, r *Req, st St, d *decision) (any, error)

// deniedFunc runs when the policy denies a request (StartSession publishes an event).
type deniedFunc[Req, St any] func(ctx context.Context, c caller, r *Req, st St, err *api.Error)

// policyVerb declares a user verb decided by policy as action. The dispatcher decodes the
// body strictly into Req, runs prepare, asks the policy, records the decision in the
// audit stream, and runs handle only if the policy allowed it.
func policyVerb[Req, St any](s *Service, verb, action string, limit int, prepare prepareFunc[Req, St], handle handleFunc[Req, St], denied ...deniedFunc[Req, St]) endpoint {
	return endpoint{kind: accounts.KindUser, verb: verb, authz: byPolicy, action: action, limit: limit,
		serve: func(ctx context.Context, c caller, body []byte) (any, error) {
			var r Req
			if err := decodeRequest(verb, body, &r, limit); err != nil {
				return nil, err
			}
			in, st, err := prepare(ctx, c, &r)
			if err != nil {
				return nil, err
			}
			d, rec, err := s.decide(ctx, c, action, in)
			if err != nil {
				if ae, ok := err.(*api.Error); ok {
					for _, f := range denied {
						f(ctx, c, &r, st, ae)
					}
				}
				return nil, err
			}
			out, err := handle(ctx, c, &r, st, d)
			rec.write(d.shown, d.hidden)
			return out, err
		}}
}

// selfVerb declares a verb an agent (or an enrolling agent) calls about itself.
func selfVerb[Req any](kind accounts.Kind, verb string, limit int, handle func(ctx context.Context, c caller, r *Req) (any, error)) endpoint {
	return endpoint{kind: kind, verb: verb, authz: bySelf, limit: limit,
		serve: func(ctx context.Context, c caller, body []byte) (any, error) {
			var r Req
			if err := decodeRequest(verb, body, &r, limit); err != nil {
				return nil, err
			}
			return handle(ctx, c, &r)
		}}
}

// ownerPolicyVerb declares a verb an agent calls about a session that runs on it, which
// the policy decides as action for the session's owner (handle calls decideForOwner).
func ownerPolicyVerb[Req any](verb, action string, limit int, handle func(ctx context.Context, c caller, r *Req) (any, error)) endpoint {
	e := selfVerb(accounts.KindAgent, verb, limit, handle)
	e.authz, e.action = byOwnerPolicy, action
	return e
}

// noInput is the prepare of verbs whose decision needs nothing but the caller.
func noInput[Req any](context.Context, caller, *Req) (policies.Input, struct{}, error) {
	return policies.Input{}, struct{}{}, nil
}

// check refuses an endpoint that does not declare how it is authorized.
func (e endpoint) check() error {
	switch {
	case e.verb == "" || e.serve == nil:
		return fmt.Errorf("endpoint %q is incomplete", e.verb)
	case e.authz == byPolicy && (e.action == "" || e.kind != accounts.KindUser):
		return fmt.Errorf("endpoint %s: a policy endpoint needs an action and user callers", e.verb)
	case e.authz == bySelf && e.kind != accounts.KindAgent && e.kind != accounts.KindEnrollment:
		return fmt.Errorf("endpoint %s: only agents and enrolling agents speak for themselves", e.verb)
	case e.authz == byOwnerPolicy && (e.action == "" || e.kind != accounts.KindAgent):
		return fmt.Errorf("endpoint %s: an owner's policy endpoint needs an action and agent callers", e.verb)
	case e.authz != byPolicy && e.authz != bySelf && e.authz != byOwnerPolicy:
		return fmt.Errorf("endpoint %s declares no authorization", e.verb)
	case e.limit <= 0:
		return fmt.Errorf("endpoint %s declares no request size limit", e.verb)
	}
	return nil
}
