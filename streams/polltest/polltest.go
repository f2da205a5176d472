// Package polltest waits for a condition with a deadline, for the agent's, broker's and
// CLI's tests: they wait on real servers and processes, where testing/synctest's fake
// clock cannot reach.
package polltest

import (
	"testing"
	"time"
)

// Interval is how often conditions are checked.
const Interval = 5 * time.Millisecond

// Wait calls f every Interval until it returns nil or d has passed, and returns f's last
// error (nil on success).
func Wait(d time.Duration, f func() error) error {
	err := f()
	if err == nil {
		return nil
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			return err
		case <-tick.C:
			if err = f(); err == nil {
				return nil
			}
		}
	}
}

// Until fails t unless cond holds within d.
func Until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if Wait(d, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}) != nil {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

type notYet struct{}

func (notYet) Error() string { return "condition not met" }

var errNotYet error = notYet{}
