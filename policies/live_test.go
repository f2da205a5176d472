package policies

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

var _ interface {
	Decide(context.Context, Input) (Decision, error)
} = (*Live)(nil)

func TestLiveZero(t *testing.T) {
	var l Live
	got, err := l.Decide(context.Background(), Input{Principal: root, Action: api.VerbWhoAmI})
	if err == nil || got.Allow || len(got.Reasons) != 1 || got.Reasons[0] != policyErrorReason {
		t.Errorf("zero Live Decide = %+v, %v; want the broken-policy deny", got, err)
	}
	if l.Revision() != "" || l.Current() != nil {
		t.Errorf("zero Live has revision %q", l.Revision())
	}
}

// TestLiveSwap swaps policies while requests are being decided (the race detector
// watches), then checks that the new policy is the one in force.
func TestLiveSwap(t *testing.T) {
	compile := func(allowed string) *Evaluator {
		t.Helper()
		e, err := Compile(context.Background(), bundleOf(map[string]string{
			"authz.rego": "package tether.authz\n\ndecision := {\"allow\": input.action == \"" + allowed + "\"}\n",
		}))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	who, add := compile(api.VerbWhoAmI), compile(api.VerbAddUser)
	if who.Revision() == add.Revision() {
		t.Fatal("two bundles with one revision")
	}
	l := NewLive(who)
	if l.Current() != who || l.Revision() != who.Revision() {
		t.Fatal("NewLive does not hold its evaluator")
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				_, err1 := l.Decide(context.Background(), Input{Principal: bob, Action: api.VerbWhoAmI})
				_, err2 := l.Decide(context.Background(), Input{Principal: bob, Action: api.VerbAddUser})
				if err1 != nil || err2 != nil {
					select {
					case errs <- "Decide error":
					default:
					}
					return
				}
			}
		})
	}
	for i := range 200 {
		next := who
		if i%2 == 0 {
			next = add
		}
		if old := l.Swap(next); old != who && old != add {
			t.Fatalf("Swap returned %v", old)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	l.Swap(add)
	if l.Revision() != add.Revision() {
		t.Errorf("Revision after Swap = %s, want %s", l.Revision(), add.Revision())
	}
	got, err := l.Decide(context.Background(), Input{Principal: bob, Action: api.VerbAddUser})
	if err != nil || !got.Allow {
		t.Errorf("Decide after Swap = %+v, %v; want the new policy's allow", got, err)
	}
}
