package control

import (
	"slices"
	"testing"
	"time"
)

// A stream at its MaxBytes discards its oldest frames: the sessions wholly discarded stop
// counting against their instance, and one that went past its budget that way may start
// sessions again. A session partly discarded still counts in full.
func TestLedgerForgetsDiscardedSessions(t *testing.T) {
	l := newLedger(100)
	now := time.Now()
	l.count("web-1", "old", 30, now, 1)
	l.count("web-1", "old", 30, now, 2)
	l.count("web-1", "half", 30, now, 3)
	if _, over := l.count("web-1", "half", 30, now, 5); !over {
		t.Fatal("120 bytes of a 100-byte budget: not over")
	}
	l.count("web-2", "other", 10, now, 4)

	if got := l.discarded(3); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("first sequence 3: discarded %v; want [old]", got)
	}
	l.drop(l.discarded(4)...)
	if held, over := l.held("web-1"); held != 60 || over {
		t.Errorf("web-1 after its first session left: holds %d, over %v; want 60, not over", held, over)
	}
	if held, _ := l.held("web-2"); held != 10 {
		t.Errorf("web-2 holds %d; want 10 (its frame at 4 is still stored)", held)
	}
	l.drop(l.discarded(6)...)
	if held, _ := l.held("web-1"); held != 0 {
		t.Errorf("web-1 after every frame left: holds %d", held)
	}
}
