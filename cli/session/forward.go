package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/fwd"
)

// ForwardOptions make Run follow a port forwarding session: instead of a process's
// input and output, it carries connections to the session's destinations.
type ForwardOptions struct {
	// Listeners: every connection one accepts becomes a connection to its Dest. Run
	// closes them when it returns.
	Listeners []ForwardListener
	// Stdio, instead, carries one connection over R and W (ssh's ProxyCommand): Run
	// returns ErrForwardDone once both ways have closed; the session still runs.
	Stdio *ForwardStdio
	// Notice, when set, is told of each connection that could not open, in a line for
	// the user ("connection to web-1:80 refused: …").
	Notice func(msg string)
}

// ForwardListener is a local listener whose connections go to destination Dest (its
// index in the session's forwards); Label names the destination in notices.
type ForwardListener struct {
	L     net.Listener
	Dest  int
	Label string
}

// ForwardStdio is one connection over a reader and a writer, to destination Dest.
type ForwardStdio struct {
	R     io.Reader
	W     io.Writer
	Dest  int
	Label string
}

// ErrForwardDone is returned by Run when the connection of ForwardOptions.Stdio has
// closed both ways. The session is not over: the caller ends it.
var ErrForwardDone = errors.New("session: the forwarded connection closed")

// forwarder is a client's half of port forwarding.
type forwarder struct {
	c    *client
	opts ForwardOptions
	mux  *fwd.Mux
	done chan struct{} // closed when the Stdio connection is over
	wg   sync.WaitGroup
	// stopped is set when Run is returning: what fails from then on is no news.
	stopped atomic.Bool
}

func newForwarder(c *client, opts ForwardOptions) *forwarder {
	f := &forwarder{c: c, opts: opts, done: make(chan struct{})}
	f.mux = fwd.NewMux(fwd.Config{Send: c.sendBuf})
	return f
}

// handle takes a frame from the control subject; false when it is not forwarding's.
func (f *forwarder) handle(fr frame.Frame) bool {
	if !fwd.Is(fr) {
		return false
	}
	if err := f.mux.Handle(fr); err != nil {
		f.c.log.Debug("forwarding frame refused", logkey.Err, err)
	}
	return true
}

func (f *forwarder) notice(label string, err error) {
	if f.opts.Notice == nil || f.stopped.Load() {
		return
	}
	var r *fwd.RefusedError
	if errors.As(err, &r) {
		f.opts.Notice(fmt.Sprintf("connection to %s refused: %s", label, r.Reason))
		return
	}
	f.opts.Notice(fmt.Sprintf("connection to %s failed: %v", label, err))
}

// start serves the listeners (or the Stdio connection) until ctx ends or stop.
func (f *forwarder) start(ctx context.Context) {
	for _, l := range f.opts.Listeners {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(ctx, l)
		}()
	}
	if s := f.opts.Stdio; s != nil {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer close(f.done)
			f.stdio(ctx, s)
		}()
	}
}

func (f *forwarder) serve(ctx context.Context, l ForwardListener) {
	for {
		conn, err := l.L.Accept()
		if err != nil {
			return // closed by stop
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			st, err := f.mux.Open(ctx, uint16(l.Dest), peerOf(conn))
			if err != nil {
				conn.Close()
				if ctx.Err() == nil {
					f.notice(l.Label, err)
				}
				return
			}
			fwd.Splice(st, conn)
		}()
	}
}

// peerOf names the local end of an accepted connection for the record.
func peerOf(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	if a := c.LocalAddr(); a != nil {
		return a.Network() + ":" + a.String()
	}
	return ""
}

// stdio carries one connection over the Stdio reader and writer.
func (f *forwarder) stdio(ctx context.Context, s *ForwardStdio) {
	st, err := f.mux.Open(ctx, uint16(s.Dest), "stdio")
	if err != nil {
		if ctx.Err() == nil {
			f.notice(s.Label, err)
		}
		return
	}
	go func() {
		if _, err := st.ReadFrom(s.R); err != nil {
			st.Reset("reading the client's input failed: " + err.Error())
			return
		}
		_ = st.CloseWrite()
	}()
	if _, err := st.WriteTo(s.W); err != nil && st.Err() == nil {
		st.Reset("writing the client's output failed: " + err.Error())
	}
	if c, ok := s.W.(io.Closer); ok {
		_ = c.Close()
	}
	<-st.Done()
}

// stop closes the listeners and every connection, and waits for their goroutines (but
// for a Stdio reader blocked in its Read, which nothing can interrupt).
func (f *forwarder) stop(reason string) {
	f.stopped.Store(true)
	for _, l := range f.opts.Listeners {
		_ = l.L.Close()
	}
	f.mux.Close(reason)
	f.wg.Wait()
}

// fwdDone is closed when the Stdio connection of a forwarding client is over; nil (never)
// otherwise.
func (c *client) fwdDone() <-chan struct{} {
	if c.fwd == nil || c.fwd.opts.Stdio == nil {
		return nil
	}
	return c.fwd.done
}
