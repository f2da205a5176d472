package natsembed

import (
	"fmt"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := newBackoff()
	now := time.Unix(1000, 0)
	b.now = func() time.Time { return now }
	var got []time.Duration
	for range 10 {
		d, _ := b.failed("10.0.0.1")
		got = append(got, d)
	}
	want := []time.Duration{0, 0, 0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delays = %v, want %v", got, want)
	}
	if d, _ := b.failed("10.0.0.2"); d != 0 {
		t.Fatalf("another source was slowed: %v", d)
	}
	if d, _ := b.failed("in-process"); d != 0 {
		t.Fatalf("in-process was slowed: %v", d)
	}
	now = now.Add(forgetAfter + time.Second)
	if d, n := b.failed("10.0.0.1"); d != 0 || n != 1 {
		t.Fatalf("after a quiet spell: delay %v after %d failures, want a fresh start", d, n)
	}
	for i := range 2 * maxSources {
		b.failed(fmt.Sprint("src-", i))
	}
	if len(b.sources) > maxSources {
		t.Fatalf("%d sources remembered; the bound is %d", len(b.sources), maxSources)
	}
}
