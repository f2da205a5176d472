package limits

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDue(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		name             string
		lim              Limits
		start, last, now time.Duration
		reason           string
		wait             time.Duration
	}{
		{"no limits", Limits{}, 0, 0, 100 * s, "", never},
		{"idle: not yet", Limits{Idle: 10 * s}, 0, 0, 4 * s, "", 6 * s},
		{"idle: reached", Limits{Idle: 10 * s}, 0, 0, 10 * s, api.ReasonIdleTimeout, 0},
		{"idle: activity defers it", Limits{Idle: 10 * s}, 0, 8 * s, 12 * s, "", 6 * s},
		{"idle: counts from the start, not earlier activity", Limits{Idle: 10 * s}, 5 * s, 1 * s, 12 * s, "", 3 * s},
		{"max: not yet", Limits{Max: 60 * s}, 5 * s, 0, 20 * s, "", 45 * s},
		{"max: reached", Limits{Max: 60 * s}, 5 * s, 64 * s, 65 * s, api.ReasonMaxDuration, 0},
		{"max: activity does not defer it", Limits{Max: 60 * s, Idle: 30 * s}, 0, 50 * s, 60 * s, api.ReasonMaxDuration, 0},
		{"both: idle first", Limits{Max: 60 * s, Idle: 30 * s}, 0, 20 * s, 55 * s, api.ReasonIdleTimeout, 0},
		{"both: wait for the earlier", Limits{Max: 60 * s, Idle: 30 * s}, 0, 40 * s, 50 * s, "", 10 * s},
		{"both: same instant", Limits{Max: 60 * s, Idle: 30 * s}, 0, 30 * s, 60 * s, api.ReasonMaxDuration, 0},
		{"huge limit saturates to none", Limits{Max: never - 1}, 10 * s, 0, 20 * s, "", never},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, wait := tc.lim.Due(tc.start, tc.last, tc.now)
			if reason != tc.reason || wait != tc.wait {
				t.Errorf("Due(%v, %v, %v) = %q, %v; want %q, %v", tc.start, tc.last, tc.now, reason, wait, tc.reason, tc.wait)
			}
		})
	}
}

// recorder records when expire was called, and why.
type recorder struct {
	mu      sync.Mutex
	t0      time.Time
	reasons []string
	at      []time.Duration
}

func (r *recorder) expire(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
	r.at = append(r.at, time.Since(r.t0))
}

func (r *recorder) check(t *testing.T, reason string, at time.Duration) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case reason == "" && len(r.reasons) != 0:
		t.Fatalf("expired %v at %v, want no expiry", r.reasons, r.at)
	case reason == "":
	case len(r.reasons) != 1 || r.reasons[0] != reason || r.at[0] != at:
		t.Fatalf("expired %v at %v, want [%s] at %v", r.reasons, r.at, reason, at)
	}
}

func TestWatchIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := New(Limits{Idle: 10 * time.Second})
		defer w.Close()
		time.Sleep(time.Hour) // before Start, time does not count
		r := &recorder{t0: time.Now()}
		w.Start(r.expire)
		for _, d := range []time.Duration{5, 9, 3} { // activity at 5s, 14s, 17s
			time.Sleep(d * time.Second)
			w.Touch()
		}
		time.Sleep(9*time.Second + 999*time.Millisecond)
		synctest.Wait()
		r.check(t, "", 0)
		time.Sleep(time.Minute)
		r.check(t, api.ReasonIdleTimeout, 27*time.Second)
	})
}

func TestWatchMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := New(Limits{Idle: 30 * time.Second, Max: time.Minute})
		defer w.Close()
		r := &recorder{t0: time.Now()}
		w.Start(r.expire)
		for range 10 { // busy: never idle for long
			time.Sleep(10 * time.Second)
			w.Touch()
		}
		r.check(t, api.ReasonMaxDuration, time.Minute)
	})
}

func TestWatchClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := New(Limits{Idle: time.Second, Max: time.Minute})
		r := &recorder{t0: time.Now()}
		w.Start(r.expire)
		time.Sleep(500 * time.Millisecond)
		w.Close()
		w.Close()
		w.Start(r.expire) // no restart after Close
		time.Sleep(time.Hour)
		r.check(t, "", 0)
	})
}

func TestWatchNoLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := New(Limits{})
		r := &recorder{t0: time.Now()}
		w.Start(r.expire)
		w.Touch()
		time.Sleep(24 * time.Hour)
		r.check(t, "", 0)
		w.Close()
	})
}
