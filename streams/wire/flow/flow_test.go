package flow

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWindowBlocksUntilAck(t *testing.T) {
	w := NewWindow(100)
	ctx := context.Background()
	if err := w.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if err := w.Acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.Acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on full window = %v, want deadline exceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Acquire(ctx, 50) }()
	w.Ack(30) // 70 outstanding: 50 more does not fit yet
	w.Ack(60) // 40 outstanding: fits
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := w.Outstanding(); got != 90 {
		t.Fatalf("outstanding = %d, want 90", got)
	}
	w.Ack(10)  // backwards: ignored
	w.Ack(500) // beyond sent: ignored
	if got := w.Outstanding(); got != 90 {
		t.Fatalf("outstanding after bogus acks = %d, want 90", got)
	}
}

func TestWindowOversizedChunkAndClose(t *testing.T) {
	w := NewWindow(10)
	if err := w.Acquire(context.Background(), 1000); err != nil {
		t.Fatalf("oversized chunk on empty window: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Acquire(context.Background(), 1) }()
	w.Close()
	w.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close = %v", err)
	}
}

func TestAcker(t *testing.T) {
	a := NewAcker(100)
	if _, r := a.Consumed(10); r {
		t.Fatal("reported below threshold")
	}
	if tot, r := a.Consumed(15); !r || tot != 25 {
		t.Fatalf("Consumed = %d,%v want 25,true", tot, r)
	}
	if _, r := a.Flush(); r {
		t.Fatal("flush with nothing new reported")
	}
	a.Consumed(1)
	if tot, r := a.Flush(); !r || tot != 26 {
		t.Fatalf("Flush = %d,%v", tot, r)
	}
}

func TestAckAfterClose(t *testing.T) {
	w := NewWindow(10)
	if err := w.Acquire(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w.Ack(5) // a late report from the receiver must not panic
}

// A client that resumes a session counts from zero; Rebase makes its reports count
// against what the agent sent since, and forgives what the lost client never acknowledged.
func TestWindowRebase(t *testing.T) {
	w := NewWindow(100)
	ctx := context.Background()
	if err := w.Acquire(ctx, 100); err != nil {
		t.Fatal(err)
	}
	w.Ack(30)   // the first client consumed 30 and went away: 70 outstanding forever
	w.Ack(10)   // a new client's count, without Rebase: backwards, ignored
	w.Rebase(0) // the new client starts counting
	if got := w.Outstanding(); got != 0 {
		t.Fatalf("outstanding after rebase = %d, want 0", got)
	}
	if err := w.Acquire(ctx, 100); err != nil {
		t.Fatal(err)
	}
	w.Ack(40) // the new client consumed 40 of the 100 sent since
	if got := w.Outstanding(); got != 60 {
		t.Fatalf("outstanding = %d, want 60", got)
	}
	w.Ack(1 << 40) // it also counts what it caught up on elsewhere: all of it, no more
	if got := w.Outstanding(); got != 0 {
		t.Fatalf("outstanding after a report beyond sent = %d, want 0", got)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.Acquire(short, 101); err != nil {
		t.Fatal(err) // nothing outstanding: one chunk passes
	}
	if err := w.Acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire beyond the window after rebase = %v, want deadline exceeded", err)
	}
}
