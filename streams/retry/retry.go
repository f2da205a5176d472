// Package retry is the one backoff of Tether's retry loops: jittered, exponential, and
// every wait cancellable by a context. It wraps github.com/cenkalti/backoff/v5.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// jitter spreads each delay over ±50% of its nominal value (capped at Max), so that
// clients that failed together do not come back in step.
const jitter = 0.5

// Policy is a backoff: the nominal delay starts at Min and doubles, up to Max.
type Policy struct {
	Min, Max time.Duration
}

// Backoff is one retry loop's state of a Policy. It is not safe for concurrent use.
type Backoff struct {
	p Policy
	b *backoff.ExponentialBackOff
}

// Start begins a retry loop.
func (p Policy) Start() *Backoff {
	if p.Max < p.Min {
		p.Max = p.Min
	}
	return &Backoff{p: p, b: &backoff.ExponentialBackOff{
		InitialInterval:     p.Min,
		RandomizationFactor: jitter,
		Multiplier:          2,
		MaxInterval:         p.Max,
	}}
}

// Next is the delay before the next attempt: never more than Max.
func (b *Backoff) Next() time.Duration { return min(b.b.NextBackOff(), b.p.Max) }

// Reset starts the delays over from Min, after a success.
func (b *Backoff) Reset() { b.b.Reset() }

// Wait waits for the next delay, or until ctx is done: then it returns ctx's error.
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Next()) }

// Delay is the delay before attempt n (1 for the first retry), for a delay that something
// else waits out (a NATS redelivery, a NATS reconnection).
func (p Policy) Delay(n int) time.Duration {
	b := p.Start()
	// The nominal delay reaches Max within 64 doublings, whatever Min and Max are.
	for range min(n, 64) - 1 {
		b.b.NextBackOff()
	}
	return b.Next()
}

// Sleep waits for d or until ctx is done, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
