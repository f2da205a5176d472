package retry

import (
	"context"
	"testing"
	"time"
)

// Delays start about Min, double, stay within ±50% of their nominal value and never pass
// Max.
func TestDelays(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	for range 50 { // the delays are random: look at many runs
		b := p.Start()
		nominal := p.Min
		for i := range 8 {
			d := b.Next()
			lo, hi := nominal/2, min(nominal*3/2, p.Max)
			if d < lo || d > hi {
				t.Fatalf("delay %d = %v, want within [%v, %v]", i+1, d, lo, hi)
			}
			if got := p.Delay(i + 1); got < lo || got > hi {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", i+1, got, lo, hi)
			}
			nominal = min(2*nominal, p.Max)
		}
		b.Reset()
		if d := b.Next(); d < p.Min/2 || d > p.Min*3/2 {
			t.Fatalf("after Reset: %v", d)
		}
	}
	if d := p.Delay(1 << 20); d < p.Max/2 || d > p.Max {
		t.Fatalf("Delay of a large attempt = %v", d)
	}
	if d := p.Delay(0); d < p.Min/2 || d > p.Min*3/2 {
		t.Fatalf("Delay(0) = %v", d)
	}
}

// A wait ends when its context does.
func TestWaitCancelled(t *testing.T) {
	b := Policy{Min: time.Hour, Max: time.Hour}.Start()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel)
	start := time.Now()
	if err := b.Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Wait returned after %v", d)
	}
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
}
