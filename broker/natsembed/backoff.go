package natsembed

import (
	"sync"
	"time"
)

// Failed authentications from one source address are answered more and more slowly: the
// first few at once (a typo, a stale key), then after a delay that doubles with each
// failure up to a cap. A source that stops failing for a while starts afresh. Successful
// connections are never slowed.
const (
	freeFailures = 5
	firstDelay   = 100 * time.Millisecond
	maxDelay     = time.Second // below the server's authentication timeout
	forgetAfter  = 10 * time.Minute
	maxSources   = 16384 // sources remembered; beyond, the stalest are forgotten
)

type backoff struct {
	now   func() time.Time
	sleep func(time.Duration)

	mu      sync.Mutex
	sources map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func newBackoff() *backoff {
	return &backoff{now: time.Now, sleep: time.Sleep, sources: map[string]*failures{}}
}

// failed counts a failure from source and returns how long to hold the answer, and how
// many failures the source had recently.
func (b *backoff) failed(source string) (time.Duration, int) {
	if source == "in-process" {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	f, ok := b.sources[source]
	if !ok || now.Sub(f.last) > forgetAfter {
		if !ok && len(b.sources) >= maxSources {
			b.forget(now)
		}
		f = &failures{}
		b.sources[source] = f
	}
	f.n++
	f.last = now
	if f.n <= freeFailures {
		return 0, f.n
	}
	d := firstDelay
	for i := freeFailures + 1; i < f.n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay), f.n
}

// forget makes room: the sources quiet for a while go, and if that is not enough, half
// of the rest, whichever they are.
func (b *backoff) forget(now time.Time) {
	for s, f := range b.sources {
		if now.Sub(f.last) > forgetAfter/10 {
			delete(b.sources, s)
		}
	}
	for s := range b.sources {
		if len(b.sources) <= maxSources/2 {
			break
		}
		delete(b.sources, s)
	}
}

func (b *backoff) wait(d time.Duration) {
	if d > 0 {
		b.sleep(d)
	}
}
