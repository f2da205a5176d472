package policies

import (
	"context"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/rego"
)

// Decision is the policy's answer to one request.
type Decision struct {
	Allow bool
	// Reasons say why a request was denied, sorted. They are public: safe to show the
	// caller. Internal detail goes in Decide's error instead.
	Reasons []string
	// Obligations are conditions an allowed request runs under, as the policy spelled
	// them (max_duration, idle_timeout, run_as, recording_required), for display.
	Obligations map[string]any
	// Limits are Obligations parsed: what the broker enforces.
	Limits Obligations
}

// policyErrorReason is the public reason of a denial caused by a broken policy rather
// than by the request.
const policyErrorReason = "the authorization policy could not decide this request"

// fallbackReason is given when a policy denies without saying why.
const fallbackReason = "denied by policy"

// Decide evaluates the policy for in. When the policy cannot be evaluated or yields no
// well-formed decision, Decide returns an error together with a deny Decision whose
// reason is safe to show the caller, so a caller that only looks at the Decision still
// denies.
func (e *Evaluator) Decide(ctx context.Context, in Input) (Decision, error) {
	// OPA checks cancellation only now and then; a request that is already abandoned
	// gets no decision at all.
	if err := ctx.Err(); err != nil {
		return brokenPolicy(fmt.Errorf("evaluate policy for %s: %w", in.Action, err))
	}
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(in.value()))
	if err != nil {
		return brokenPolicy(fmt.Errorf("evaluate policy for %s: %w", in.Action, err))
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return brokenPolicy(fmt.Errorf("evaluate policy for %s: %s is undefined", in.Action, decisionQuery))
	}
	d, err := decode(rs[0].Expressions[0].Value)
	if err != nil {
		return brokenPolicy(fmt.Errorf("evaluate policy for %s: %w", in.Action, err))
	}
	if d.Limits, err = ParseObligations(d.Obligations); err != nil {
		// An obligation the broker would not understand denies: it must not be dropped.
		return brokenPolicy(fmt.Errorf("evaluate policy for %s: %s.%w", in.Action, decisionQuery, err))
	}
	if !d.Allow && len(d.Reasons) == 0 {
		d.Reasons = []string{fallbackReason}
	}
	return d, nil
}

func brokenPolicy(err error) (Decision, error) {
	return Decision{Reasons: []string{policyErrorReason}}, err
}

// decode checks the shape of a decision value as the rego package returns it.
func decode(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("%s is %T, not an object", decisionQuery, v)
	}
	var d Decision
	allow, ok := obj["allow"].(bool)
	if !ok {
		return Decision{}, fmt.Errorf("%s.allow is %T, not a boolean", decisionQuery, obj["allow"])
	}
	d.Allow = allow

	if raw, ok := obj["reasons"]; ok {
		list, ok := raw.([]any)
		if !ok {
			return Decision{}, fmt.Errorf("%s.reasons is %T, not an array", decisionQuery, raw)
		}
		for i, r := range list {
			s, ok := r.(string)
			if !ok {
				return Decision{}, fmt.Errorf("%s.reasons[%d] is %T, not a string", decisionQuery, i, r)
			}
			d.Reasons = append(d.Reasons, s)
		}
		// The shipped policy sorts its reasons; do not rely on others doing so.
		slices.Sort(d.Reasons)
	}

	if raw, ok := obj["obligations"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return Decision{}, fmt.Errorf("%s.obligations is %T, not an object", decisionQuery, raw)
		}
		if len(m) > 0 {
			d.Obligations = m
		}
	}
	return d, nil
}
