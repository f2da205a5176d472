// Package polltest waits for a condition with a deadline, for the agent's, broker's and
// CLI's tests: they wait on real servers and processes, where testing/synctest's fake
// clock cannot reach.
package polltest

import (
	"runtime"
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

// Returns fails t unless wait returns within d, with every goroutine's stack so that what
// it waits on is named. Use it where a test would otherwise hang until go test's timeout
// kills the whole package (a cleanup waiting for a component to stop, say). A wait still
// blocked is left running.
func Returns(t testing.TB, d time.Duration, what string, wait func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); wait() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%s did not return within %v; goroutines:\n%s", what, d, buf)
	}
}

type notYet struct{}

func (notYet) Error() string { return "condition not met" }

var errNotYet error = notYet{}
