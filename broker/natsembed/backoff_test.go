package natsembed

import (
	"fmt"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/accounts"
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

// An activation code tried with ever new keys makes a bounded number of enrollment
// accounts: twice its registrations, and a few.
func TestEnrollmentRoom(t *testing.T) {
	as := newAccountSet(nil)
	limit := 3
	n := 0
	for i := range 100 {
		a := accounts.Enrollment("act-1", fmt.Sprintf("UKEY%d", i)).Account
		if as.enrollmentRoom(a, limit) != nil {
			break
		}
		n++
	}
	if n != 2*limit+8 {
		t.Fatalf("%d enrollment accounts for an activation of %d registrations, want %d", n, limit, 2*limit+8)
	}
	if err := as.enrollmentRoom(accounts.Enrollment("act-2", "UKEY0").Account, limit); err != nil {
		t.Fatalf("another activation: %v", err)
	}
}
