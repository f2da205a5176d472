package fwd

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Ended says how a spliced connection ended.
type Ended struct {
	// LocalFirst: the local side closed its writing (or failed) before the peer did.
	LocalFirst bool
	// Reset is the peer's reason when it reset the connection (or the Mux's, when it
	// closed), "" otherwise.
	Reset string
	// Err is a local I/O failure, or this side's reset of the connection past the
	// session's budget (ErrOverBudget); nil when both sides closed cleanly.
	Err error
}

// closeWriter is a connection that can shut its writing side alone (TCP, unix).
type closeWriter interface{ CloseWrite() error }

// Splice copies between c and local both ways until both sides have closed their writing
// or either fails, honouring half-close: the local side's EOF becomes c's CloseWrite, and
// the peer's becomes local's CloseWrite (or, for a connection without one, its Close once
// both are done). It closes local before it returns.
func Splice(c *Conn, local net.Conn) Ended {
	var (
		mu    sync.Mutex
		first = 0 // 1: local side ended first, 2: the peer
		ended Ended
	)
	mark := func(who int, err error) {
		mu.Lock()
		if first == 0 {
			first = who
		}
		if err != nil && ended.Err == nil {
			ended.Err = err
		}
		mu.Unlock()
	}
	// A reset (by the peer, the Mux's close or its budget) ends the copying both ways at
	// once, even a write the local end is not taking.
	spliced := make(chan struct{})
	defer close(spliced)
	go func() {
		select {
		case <-c.Done():
			if c.Err() != nil {
				_ = local.Close()
			}
		case <-spliced:
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // local → peer
		defer wg.Done()
		_, err := c.ReadFrom(local)
		if err != nil {
			if c.Err() != nil { // reset, not a local failure
				_ = local.Close()
				return
			}
			mark(1, err)
			c.Reset("the connection failed on the client's side: " + err.Error())
			_ = local.Close()
			return
		}
		mark(1, nil)
		_ = c.CloseWrite()
	}()
	// peer → local
	_, err := c.WriteTo(local)
	switch {
	case err != nil && c.Err() != nil: // reset by the peer or the Mux
		_ = local.Close()
	case err != nil:
		mark(2, err)
		c.Reset("writing to the connection failed: " + err.Error())
		_ = local.Close()
	default:
		mark(2, nil)
		if cw, ok := local.(closeWriter); ok {
			_ = cw.CloseWrite()
		}
	}
	wg.Wait()
	_ = local.Close()
	if err := c.Err(); err != nil {
		var r *RefusedError
		switch {
		case errors.As(err, &r) || errors.Is(err, ErrClosed):
			ended.Reset = err.Error()
		case errors.Is(err, ErrOverBudget): // this side's own reset: a failure here
			ended.Err = err
		}
	}
	ended.LocalFirst = first == 1
	if ended.Err != nil && (errors.Is(ended.Err, net.ErrClosed) || errors.Is(ended.Err, io.ErrClosedPipe)) && ended.Reset != "" {
		ended.Err = nil
	}
	return ended
}
