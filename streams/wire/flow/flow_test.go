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
