package policies

import (
	"context"
	"errors"
	"sync/atomic"
)

// Live is the policy in force, which a new bundle can replace while requests are being
// decided: each Decide uses the evaluator current when it starts. The zero Live has no
// policy and denies everything. It is safe for concurrent use.
type Live struct {
	cur atomic.Pointer[Evaluator]
}

// NewLive returns a Live with e in force.
func NewLive(e *Evaluator) *Live {
	l := new(Live)
	l.cur.Store(e)
	return l
}

// Decide decides in with the evaluator in force; see (*Evaluator).Decide.
func (l *Live) Decide(ctx context.Context, in Input) (Decision, error) {
	e := l.cur.Load()
	if e == nil {
		return brokenPolicy(errors.New("evaluate policy: no policy is loaded"))
	}
	return e.Decide(ctx, in)
}

// Swap puts e in force and returns the evaluator it replaces.
func (l *Live) Swap(e *Evaluator) (old *Evaluator) { return l.cur.Swap(e) }

// Current returns the evaluator in force, or nil.
func (l *Live) Current() *Evaluator { return l.cur.Load() }

// Revision is the revision of the bundle in force, or "" when there is none.
func (l *Live) Revision() string {
	if e := l.cur.Load(); e != nil {
		return e.Revision()
	}
	return ""
}

// AdminGroups are the admin groups of the policy in force (see Evaluator.AdminGroups).
func (l *Live) AdminGroups() []string {
	if e := l.cur.Load(); e != nil {
		return e.AdminGroups()
	}
	return nil
}
