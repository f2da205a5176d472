package channel

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/fwd"
)

// inbox queues stdin for the writer goroutine, so a process that does not read its input
// never holds up the client's other frames (window updates above all). It holds at most
// one window of bytes, which a client that respects its credit never exceeds.
type inbox struct {
	mu    sync.Mutex
	q     [][]byte
	bytes int
	eof   bool // the client closed stdin
	wake  chan struct{}
}

func (in *inbox) init() { in.wake = make(chan struct{}, 1) }

func (in *inbox) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// onIn handles one message from the input subject. It runs on the subscription's
// goroutine, so frames are handled in order.
//
// Only the session's owner can publish on its input subject; even so, a frame is taken
// only if it carries no reply subject (nothing on this subject is a request, and
// answering one would let the sender aim the agent's words wherever it likes) and only
// in sequence: each frame's number above the last one taken (a client resuming the
// session numbers from a base above every earlier one), so nothing is taken twice or
// out of order.
func (c *Channel) onIn(msg *nats.Msg) {
	if msg.Reply != "" {
		c.refuseIn("dropped input frame that carries a reply subject")
		return
	}
	f, err := frame.Decode(msg.Data)
	if err != nil {
		c.refuseIn("dropped malformed input frame", logkey.Err, err)
		return
	}
	if f.Seq <= c.inSeq {
		c.refuseIn("dropped input frame out of sequence", logkey.Frame, f.Type.String(), "seq", f.Seq, "after", c.inSeq)
		return
	}
	c.inSeq = f.Seq
	c.lastIn.Store(time.Now().UnixNano())
	c.attachOnce.Do(func() { close(c.attached) })
	<-c.bound // the process exists (or never will) before input is handled
	if fwd.Is(f) {
		if c.cfg.Forward != nil {
			c.cfg.Forward(f)
		}
		return
	}
	switch f.Type {
	case frame.Stdin:
		c.activity()
		c.queueStdin(f.Payload)
	case frame.Close:
		c.in.mu.Lock()
		c.in.eof = true
		c.in.mu.Unlock()
		c.in.signal()
	case frame.Window:
		n, err := frame.DecodeWindow(f.Payload)
		if err != nil {
			c.log.Warn("dropped malformed window frame", logkey.Err, err)
			return
		}
		if f.Flags&frame.FlagRebase != 0 {
			c.win.Rebase(n) // a resumed client counts afresh
			return
		}
		c.win.Ack(n) // a report after ReleaseWindow is ignored by the window itself
	case frame.Resize:
		s, err := frame.DecodeSize(f.Payload)
		if err != nil {
			c.log.Warn("dropped malformed resize frame", logkey.Err, err)
			return
		}
		c.activity()
		if c.proc == nil {
			return
		}
		if err := c.proc.Resize(s.Cols, s.Rows); err != nil {
			c.log.Debug("resize", logkey.Err, err)
			return
		}
		c.SendResize(s)
	case frame.Signal:
		name, err := frame.DecodeText(f.Payload)
		if err != nil {
			c.log.Warn("dropped malformed signal frame", logkey.Err, err)
			return
		}
		c.activity()
		if name == frame.SignalPipe {
			c.log.Info("the client's output broke: closing the process's outputs")
			c.closeOutputs()
			return
		}
		if c.proc == nil {
			return
		}
		if err := c.proc.Signal(name); err != nil {
			c.log.Info("signal ignored", logkey.Signal, name, logkey.Err, err)
		}
	case frame.Keepalive:
	default:
		c.log.Debug("ignored input frame", logkey.Frame, f.Type.String())
	}
}

func (c *Channel) queueStdin(p []byte) {
	if len(p) == 0 {
		return
	}
	in := &c.in
	in.mu.Lock()
	switch {
	case in.eof:
		in.mu.Unlock()
		return
	case max(in.bytes, c.rin.backlog())+len(p) > c.cfg.Window+frame.MaxPayload:
		in.mu.Unlock()
		c.log.Warn("client exceeded its input window: stdin dropped", logkey.Bytes, len(p))
		c.consumed(len(p), len(p)) // keep the client's count in step
		return
	}
	// Append small writes to the last queued buffer: typing one byte per frame must not
	// grow the queue by a slice per byte.
	if n := len(in.q); n > 0 && len(in.q[n-1])+len(p) <= frame.ChunkSize && cap(in.q[n-1]) >= frame.ChunkSize {
		in.q[n-1] = append(in.q[n-1], p...)
	} else {
		b := make([]byte, len(p), max(len(p), frame.ChunkSize))
		copy(b, p)
		in.q = append(in.q, b)
	}
	in.bytes += len(p)
	in.mu.Unlock()
	in.signal()
	c.rin.queue(p) // a no-op unless input is recorded
}

// writeStdin is the stdin writer goroutine: it writes queued input to the process,
// and reports consumed bytes on Ctl once a quarter of the window has been consumed.
func (c *Channel) writeStdin() {
	defer close(c.writerDone)
	select {
	case <-c.bound:
	case <-c.quit:
		return
	}
	if len(c.cfg.Preface) > 0 && c.proc != nil {
		if _, err := c.proc.Write(c.cfg.Preface); err != nil {
			c.log.Debug("write stdin preface", logkey.Err, err)
		}
	}
	closed := false
	for {
		select {
		case <-c.in.wake:
		case <-c.quit:
			return
		}
		for {
			c.in.mu.Lock()
			q, eof := c.in.q, c.in.eof
			c.in.q = nil
			c.in.mu.Unlock()
			if len(q) == 0 {
				if eof && !closed && c.proc != nil {
					closed = true
					if err := c.proc.CloseStdin(); err != nil {
						c.log.Debug("close stdin", logkey.Err, err)
					}
				}
				break
			}
			for _, b := range q {
				if c.proc != nil {
					if _, err := c.proc.Write(b); err != nil {
						c.log.Debug("write stdin", logkey.Err, err)
					}
				}
				c.in.mu.Lock()
				c.in.bytes -= len(b)
				c.in.mu.Unlock()
				c.consumed(len(b), 0)
			}
		}
		// No report when the queue runs dry: a sender only waits on credit once it has a
		// nearly full window outstanding, far past the Acker's threshold, so reports
		// sent by reportConsumed always free it. Reporting every keystroke would put a
		// second message on the echo's path.
	}
}

func (c *Channel) reportConsumed(n int) {
	if total, report := c.acker.Consumed(n); report {
		c.sendWindow(total)
	}
}

// SendCtl publishes a frame on Ctl, the subject the transcript stream does not capture
// (a port forwarding frame): buf[:frame.HeaderLen] is for its header, which SendCtl writes
// with the next Ctl sequence number; the payload follows. It does not keep buf.
func (c *Channel) SendCtl(t frame.Type, flags uint8, buf []byte) error {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	c.ctlSeq++
	frame.PutHeader(buf, t, flags, c.ctlSeq)
	return c.cfg.Conn.Publish(c.cfg.Subjects.Ctl, buf)
}

// sendWindow reports consumed input on Ctl, a core subject the transcript does not
// capture. Ctl frames have their own sequence numbers.
func (c *Channel) sendWindow(total uint64) {
	c.ctlMu.Lock() // numbers and publishes in one step, so frames leave in order
	defer c.ctlMu.Unlock()
	c.ctlSeq++
	data := frame.Encode(frame.Frame{Type: frame.Window, Seq: c.ctlSeq, Payload: frame.EncodeWindow(total)})
	if err := c.cfg.Conn.Publish(c.cfg.Subjects.Ctl, data); err != nil {
		c.log.Debug("send window", logkey.Err, err)
	}
}

// refuseIn counts a refused input frame and logs the first few.
func (c *Channel) refuseIn(msg string, args ...any) {
	c.refusedIn++
	if c.refusedIn <= 3 || c.refusedIn%1000 == 0 {
		c.log.Warn(msg, append(args, "refused_so_far", c.refusedIn)...)
	}
}
