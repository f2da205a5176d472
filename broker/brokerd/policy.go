package brokerd

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetherhq/tether/broker/control"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/wire/api"
)

var (
	_ control.Authorizer   = (*policies.Live)(nil)
	_ control.PolicyLoader = (*policyLoader)(nil)
)

// policyLoader compiles pushed bundles and swaps them into the live policy.
type policyLoader struct {
	live *policies.Live
	opts []policies.Option // this broker's own policy data, laid over every bundle's

	mu      sync.Mutex
	applied string // revision of the pushed bundle in force, "" for the one the broker started with
	// checked is the bundle Check compiled last, so that Apply, which a push calls next,
	// does not compile it again.
	checked    *policies.Evaluator
	checkedRev string
}

func bundleOf(files []api.PolicyFile) (policies.Bundle, error) {
	b := policies.Bundle{Files: make(map[string][]byte, len(files))}
	for _, f := range files {
		if _, dup := b.Files[f.Path]; dup {
			return b, fmt.Errorf("policy bundle names %s twice", f.Path)
		}
		b.Files[f.Path] = []byte(f.Content)
	}
	return b, b.Check()
}

func (l *policyLoader) Check(ctx context.Context, files []api.PolicyFile) (string, error) {
	b, err := bundleOf(files)
	if err != nil {
		return "", err
	}
	ev, err := policies.Compile(ctx, b, l.opts...)
	if err != nil {
		return "", err
	}
	if err := policies.Test(ctx, b); err != nil {
		return "", err
	}
	l.mu.Lock()
	l.checked, l.checkedRev = ev, b.Revision()
	l.mu.Unlock()
	return b.Revision(), nil
}

func (l *policyLoader) Apply(ctx context.Context, files []api.PolicyFile) (string, error) {
	b, err := bundleOf(files)
	if err != nil {
		return "", err
	}
	rev := b.Revision()
	l.mu.Lock()
	defer l.mu.Unlock()
	if rev == l.applied {
		return rev, nil
	}
	ev := l.checked
	if rev != l.checkedRev {
		if ev, err = policies.Compile(ctx, b, l.opts...); err != nil {
			return "", err
		}
	}
	l.checked, l.checkedRev = nil, ""
	l.live.Swap(ev)
	l.applied = rev
	return rev, nil
}

func (l *policyLoader) Revision() string { return l.live.Revision() }
