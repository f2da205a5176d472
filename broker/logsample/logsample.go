// Package logsample keeps a flood of like events from flooding the log: an event is
// logged at most once per key per interval, with the count of those left out since.
package logsample

import (
	"sync"
	"time"
)

// maxKeys bounds the keys remembered; past it, the oldest half is forgotten (an attacker
// with many source addresses must not grow the map without bound).
const maxKeys = 4096

// Sampler decides which events of a kind are logged. The zero value is not usable: use New.
type Sampler struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	last       time.Time
	suppressed int
}

// New returns a sampler that lets one event per key through every interval.
func New(every time.Duration) *Sampler {
	return &Sampler{every: every, now: time.Now, keys: map[string]*entry{}}
}

// Allow reports whether an event for key is to be logged now and, if so, how many events
// for key were left out since the last one logged.
func (s *Sampler) Allow(key string) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e, found := s.keys[key]
	if !found {
		if len(s.keys) >= maxKeys {
			s.forgetOldest()
		}
		s.keys[key] = &entry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < s.every {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

// forgetOldest drops the keys last logged longer ago than the median.
func (s *Sampler) forgetOldest() {
	cut := s.now().Add(-s.every)
	for k, e := range s.keys {
		if e.last.Before(cut) {
			delete(s.keys, k)
		}
	}
	if len(s.keys) < maxKeys {
		return
	}
	n := 0
	for k := range s.keys { // still full of recent keys: forget half, whichever
		if n >= maxKeys/2 {
			break
		}
		delete(s.keys, k)
		n++
	}
}
