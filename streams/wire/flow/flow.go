package flow

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("flow: window closed")

// Window is a sender's view of one direction's credit: at most size bytes may be sent and
// not yet reported consumed by the receiver. It is safe for concurrent use.
type Window struct {
	mu     sync.Mutex
	size   uint64
	sent   uint64
	acked  uint64
	base   uint64 // added to the receiver's reports since the last Rebase
	rebase bool   // Rebase was called: reports beyond sent count as sent
	closed bool
	wake   chan struct{} // closed and replaced whenever credit grows or the window closes
}

// NewWindow returns a window of size bytes.
func NewWindow(size int) *Window {
	return &Window{size: uint64(size), wake: make(chan struct{})}
}

// Acquire waits until n more bytes fit in the window and counts them as sent. A chunk
// larger than the window is let through once nothing is outstanding, so progress is always
// possible.
func (w *Window) Acquire(ctx context.Context, n int) error {
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return ErrClosed
		}
		out := w.sent - w.acked
		if out+uint64(n) <= w.size || out == 0 {
			w.sent += uint64(n)
			w.mu.Unlock()
			return nil
		}
		wake := w.wake
		w.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Ack records that the receiver has consumed consumed bytes in total (since the last
// Rebase). Reports that go backwards or claim more than was sent are ignored; after a
// Rebase, a claim beyond what was sent counts as all of it (the new receiver also counts
// output it caught up on from elsewhere).
func (w *Window) Ack(consumed uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.base + consumed
	if w.rebase && v > w.sent {
		v = w.sent
	}
	if w.closed || v <= w.acked || v > w.sent {
		return
	}
	w.acked = v
	w.grew()
}

// Rebase starts a new receiver's count: everything sent so far counts as consumed, and
// the receiver's reports from now on, consumed bytes since it started counting, add to
// what was sent minus consumed. A receiver that took over from a lost one calls for it,
// so the credit the lost one never returned is not lost with it. It grants at most one
// window of credit the receiver did not earn, as acknowledging everything would.
func (w *Window) Rebase(consumed uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.base, w.rebase = w.sent-min(consumed, w.sent), true
	if w.acked != w.sent {
		w.acked = w.sent
		w.grew()
	}
}

func (w *Window) grew() {
	close(w.wake)
	w.wake = make(chan struct{})
}

// Outstanding returns the bytes sent and not yet acknowledged.
func (w *Window) Outstanding() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent - w.acked
}

// Close wakes every waiter with ErrClosed. It is idempotent.
func (w *Window) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.grew()
	}
}

// Acker counts the bytes a receiver has consumed and says when to report them: after a
// quarter of the window since the last report, so the sender never stalls on a full window
// while reports are in flight.
type Acker struct {
	mu        sync.Mutex
	consumed  uint64
	reported  uint64
	threshold uint64
}

// NewAcker returns an Acker for a window of size bytes.
func NewAcker(size int) *Acker {
	t := uint64(size) / 4
	if t == 0 {
		t = 1
	}
	return &Acker{threshold: t}
}

// Consumed records n more bytes consumed. When report is true the caller must send a
// Window frame carrying total.
func (a *Acker) Consumed(n int) (total uint64, report bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.consumed += uint64(n)
	if a.consumed-a.reported >= a.threshold {
		a.reported = a.consumed
		return a.consumed, true
	}
	return a.consumed, false
}

// Total returns the bytes consumed so far.
func (a *Acker) Total() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.consumed
}

// Flush returns the total consumed and whether it has not been reported yet, marking it
// reported; receivers call it when they go idle so a sender waiting on a small window
// is not left waiting.
func (a *Acker) Flush() (total uint64, report bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.consumed == a.reported {
		return a.consumed, false
	}
	a.reported = a.consumed
	return a.consumed, true
}
