package channel

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// readAhead is how many reads each output may hold ready for the publisher.
const readAhead = 8

// outbound is the output side: a reader goroutine per output feeding one publisher
// goroutine, the only one that numbers and publishes frames on Out.
type outbound struct {
	data      [2]chan []byte // stdout, stderr; closed by their reader
	readers   []*reader
	left      atomic.Int32
	allRead   chan struct{}
	exit      chan frame.ExitStatus
	pending   chan pending // published, waiting for the stream's ack
	pumpDone  chan struct{}
	trackDone chan struct{}

	ctrlMu   sync.Mutex
	ctrl     []frame.Frame // Resize and Error frames to publish
	ctrlWake chan struct{}

	// Owned by the publisher goroutine; read by Finish after pumpDone.
	seq, frames, bytes uint64
}

func (o *outbound) init() {
	o.data = [2]chan []byte{make(chan []byte, readAhead), make(chan []byte, readAhead)}
	o.allRead = make(chan struct{})
	o.exit = make(chan frame.ExitStatus, 1)
	o.pending = make(chan pending, 256)
	o.pumpDone = make(chan struct{})
	o.trackDone = make(chan struct{})
	o.ctrlWake = make(chan struct{}, 1)
}

func streamIndex(t frame.Type) int {
	if t == frame.Stderr {
		return 1
	}
	return 0
}

type reader struct {
	r     io.ReadCloser
	since atomic.Int64 // unix nanoseconds the pending Read began; 0 when not reading
}

func (o *outbound) startReaders(c *Channel, outs []Output) {
	var used [2]bool
	var start []func()
	for _, out := range outs {
		i := streamIndex(out.Type)
		if used[i] || out.R == nil {
			continue
		}
		used[i] = true
		r := &reader{r: out.R}
		o.readers = append(o.readers, r)
		ch := o.data[i]
		start = append(start, func() { c.read(r, ch) })
	}
	// Count every reader before any starts: one that ends at once must not see the count
	// reach zero while the others are still to come.
	o.left.Add(int32(len(start)))
	for _, f := range start {
		go f()
	}
	for i, u := range used {
		if !u {
			close(o.data[i])
		}
	}
	if len(o.readers) == 0 {
		close(o.allRead)
	}
}

// read reads one output until its end. Each read goes into the unused tail of a buffer,
// so interactive output does not cost a chunk-sized allocation per keystroke.
func (c *Channel) read(r *reader, ch chan<- []byte) {
	defer func() {
		close(ch)
		if c.out.left.Add(-1) == 0 {
			close(c.out.allRead)
		}
	}()
	var buf []byte
	for {
		if len(buf) < 4<<10 {
			buf = make([]byte, frame.ChunkSize)
		}
		r.since.Store(time.Now().UnixNano())
		n, err := r.r.Read(buf)
		r.since.Store(0)
		if n > 0 {
			if c.cfg.OutputActivity {
				c.activity()
			}
			ch <- buf[:n:n]
			buf = buf[n:]
		}
		if err != nil {
			if !endOfOutput(err) {
				c.log.Warn("read output", logkey.Err, err)
			}
			return
		}
	}
}

// endOfOutput reports whether err is how an output ends: EOF on a pipe, EIO on a PTY
// master once the terminal's last holder closed it, or our own Close.
func endOfOutput(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed)
}

func (o *outbound) drain(idle time.Duration) {
	if idle <= 0 {
		idle = 500 * time.Millisecond
	}
	t := time.NewTicker(idle / 4)
	defer t.Stop()
	for {
		select {
		case <-o.allRead:
			return
		case <-t.C:
			now := time.Now().UnixNano()
			for _, r := range o.readers {
				if s := r.since.Load(); s != 0 && now-s > int64(idle) {
					r.r.Close()
				}
			}
		}
	}
}

// queue adds a control frame for the publisher. A Resize replaces a Resize still waiting
// at the end of the queue, so the queue stays short however fast the client resizes.
func (o *outbound) queue(t frame.Type, payload []byte, coalesce bool) {
	o.ctrlMu.Lock()
	if n := len(o.ctrl); coalesce && n > 0 && o.ctrl[n-1].Type == t {
		o.ctrl[n-1].Payload = payload
	} else {
		o.ctrl = append(o.ctrl, frame.Frame{Type: t, Payload: payload})
	}
	o.ctrlMu.Unlock()
	select {
	case o.ctrlWake <- struct{}{}:
	default:
	}
}

func (o *outbound) hasCtrl() bool {
	o.ctrlMu.Lock()
	defer o.ctrlMu.Unlock()
	return len(o.ctrl) > 0
}

func (o *outbound) takeCtrl() []frame.Frame {
	o.ctrlMu.Lock()
	defer o.ctrlMu.Unlock()
	q := o.ctrl
	o.ctrl = nil
	return q
}

// pump is the publisher goroutine.
func (c *Channel) pump() {
	o := &c.out
	defer close(o.pumpDone)
	defer close(o.pending)
	data := o.data
	var carry [2][]byte
	var exit *frame.ExitStatus
	for {
		for _, f := range o.takeCtrl() {
			c.publish(f.Type, f.Payload)
		}
		more := false
		for i := range carry {
			if len(carry[i]) > 0 {
				carry[i] = c.publishData(i, carry[i], data[i])
				more = more || len(carry[i]) > 0
			}
		}
		if more {
			continue // publish what is left before taking more
		}
		if exit != nil && data[0] == nil && data[1] == nil && !o.hasCtrl() {
			c.publish(frame.Exit, frame.EncodeExit(*exit))
			return
		}
		select {
		case b, ok := <-data[0]:
			if !ok {
				data[0] = nil
				continue
			}
			carry[0] = c.publishData(0, b, data[0])
		case b, ok := <-data[1]:
			if !ok {
				data[1] = nil
				continue
			}
			carry[1] = c.publishData(1, b, data[1])
		case <-o.ctrlWake:
		case st := <-o.exit:
			exit = &st
		}
	}
}

// publishData publishes one data frame starting with first and topped up with whatever
// else is already waiting on ch, up to ChunkSize, without waiting for more. It returns the
// bytes that did not fit.
func (c *Channel) publishData(i int, first []byte, ch <-chan []byte) (carry []byte) {
	payload := first
	if len(payload) > frame.ChunkSize {
		payload, carry = payload[:frame.ChunkSize], payload[frame.ChunkSize:]
	}
	if carry == nil && ch != nil {
		owned := false
	fill:
		for len(payload) < frame.ChunkSize {
			select {
			case b, ok := <-ch:
				if !ok {
					break fill
				}
				if !owned {
					payload = append(make([]byte, 0, frame.ChunkSize), payload...)
					owned = true
				}
				room := frame.ChunkSize - len(payload)
				if len(b) > room {
					b, carry = b[:room], b[room:]
				}
				payload = append(payload, b...)
			default:
				break fill
			}
		}
	}
	// A closed window (released, or failed) lets everything through.
	_ = c.win.Acquire(context.Background(), len(payload))
	t := frame.Stdout
	if i == 1 {
		t = frame.Stderr
	}
	c.publish(t, payload)
	return carry
}

// publish numbers, encodes and publishes one frame on Out, retrying a refused publish, and
// hands it to the tracker to await the stream's acknowledgement.
func (c *Channel) publish(t frame.Type, payload []byte) {
	o := &c.out
	o.seq++
	buf := getFrameBuf(frame.HeaderLen + len(payload))
	msg := &nats.Msg{
		Subject: c.cfg.Subjects.Out,
		Data:    frame.Append((*buf)[:0], frame.Frame{Type: t, Seq: o.seq, Payload: payload}),
	}
	p := pending{msg: msg, buf: buf, seq: o.seq}
	p.fut = c.publishRetry(p)
	o.frames++
	if t.IsData() {
		o.bytes += uint64(len(payload))
	}
	o.pending <- p
}
