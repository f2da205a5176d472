package limits

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Limits are a session's time limits; a zero field is no limit.
type Limits struct {
	Idle time.Duration // without activity
	Max  time.Duration // since the start
}

// never is a wait longer than any session.
const never = time.Duration(math.MaxInt64)

// Due reports the limit (api.ReasonIdleTimeout or api.ReasonMaxDuration) that a session
// which started at start and was last active at last has reached at now, or "" and how long
// until one may be. Times are offsets on one monotonic clock. When both limits are reached,
// the one reached first wins; at the same instant, MaxDuration.
func (l Limits) Due(start, last, now time.Duration) (reason string, wait time.Duration) {
	maxAt, idleAt := never, never
	if l.Max > 0 {
		maxAt = addSat(start, l.Max)
	}
	if l.Idle > 0 {
		idleAt = addSat(max(start, last), l.Idle)
	}
	at, reason := maxAt, api.ReasonMaxDuration
	if idleAt < maxAt {
		at, reason = idleAt, api.ReasonIdleTimeout
	}
	switch {
	case at == never:
		return "", never
	case now >= at:
		return reason, 0
	default:
		return "", at - now
	}
}

func addSat(a, b time.Duration) time.Duration {
	if b > 0 && a > never-b {
		return never
	}
	return a + b
}

// Watch applies Limits to one session. Its methods are safe for concurrent use.
type Watch struct {
	lim   Limits
	epoch time.Time    // offsets are measured from it, on the monotonic clock
	last  atomic.Int64 // offset of the last activity

	mu      sync.Mutex
	start   time.Duration
	timer   *time.Timer
	expire  func(reason string)
	stopped bool
}

// New returns a Watch for l; its clock starts with Start.
func New(l Limits) *Watch { return &Watch{lim: l, epoch: time.Now()} }

// Touch records activity, which defers the idle timeout. It is one atomic store.
func (w *Watch) Touch() { w.last.Store(int64(time.Since(w.epoch))) }

// Start starts the session's clock now: expire is called once, from another goroutine,
// with the reason of the first limit reached. Start does nothing when there is no limit,
// when it was called before, or after Close.
func (w *Watch) Start(expire func(reason string)) {
	if w.lim.Idle <= 0 && w.lim.Max <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.timer != nil {
		return
	}
	w.start = time.Since(w.epoch)
	w.expire = expire
	_, wait := w.lim.Due(w.start, w.start, w.start)
	w.timer = time.AfterFunc(wait, w.check)
}

// check runs when a limit may have been reached: it ends the session or waits again.
func (w *Watch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	reason, wait := w.lim.Due(w.start, time.Duration(w.last.Load()), time.Since(w.epoch))
	if reason == "" {
		w.timer.Reset(wait)
		return
	}
	w.stopped = true
	w.expire(reason) // under mu, so that Close waits for it
}

// Close stops the watch: once it returns, expire is not running and will not be called.
// expire must not call Close. Close is idempotent.
func (w *Watch) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}
