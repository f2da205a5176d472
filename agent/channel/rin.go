package channel

import (
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// recorder is the recorded-input side, used when Config.RecordInput is set. onIn queues
// the payload of each Stdin frame the process is given; the recorder goroutine numbers the
// payloads in a sequence of their own, publishes them on Rin as Stdin frames and hands them
// to a tracker that awaits the stream's acknowledgements as track does for Out. Recorded
// input takes no output credit.
type recorder struct {
	mu     sync.Mutex
	q      [][]byte
	queued int  // bytes in q
	closed bool // the recorder has stopped; nothing more is queued
	wake   chan struct{}

	pending chan pending  // published, waiting for the stream's ack
	done    chan struct{} // closed once every recorded frame is acknowledged or given up

	// Owned by the recorder goroutine; read by Finish after done.
	seq, bytes uint64
}

func (r *recorder) init(on bool) {
	r.wake = make(chan struct{}, 1)
	r.pending = make(chan pending, 256)
	r.done = make(chan struct{})
	if !on {
		r.closed = true
		close(r.done)
	}
}

// backlog returns the bytes queued and not yet published.
func (r *recorder) backlog() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queued
}

// queue adds one Stdin payload. It keeps p: nats.go gives each message its own buffer.
func (r *recorder) queue(p []byte) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.q = append(r.q, p)
	r.queued += len(p)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// record is the recorder goroutine. When the channel quits it publishes what is still
// queued and stops.
func (c *Channel) record() {
	r := &c.rin
	defer close(r.pending)
	for {
		stop := false
		select {
		case <-r.wake:
		case <-c.quit:
			stop = true
		}
		r.mu.Lock()
		q := r.q
		r.q = nil
		r.closed = stop
		r.mu.Unlock()
		for _, p := range q {
			c.publishInput(p)
		}
		if stop {
			return
		}
	}
}

// publishInput numbers, encodes and publishes one recorded Stdin frame on Rin, then gives
// the client back the credit for its bytes if the process has consumed them too.
func (c *Channel) publishInput(payload []byte) {
	r := &c.rin
	r.seq++
	buf := getFrameBuf(frame.HeaderLen + len(payload))
	msg := &nats.Msg{
		Subject: c.cfg.Subjects.Rin,
		Data:    frame.Append((*buf)[:0], frame.Frame{Type: frame.Stdin, Seq: r.seq, Payload: payload}),
	}
	p := pending{msg: msg, buf: buf, seq: r.seq, input: true}
	p.fut = c.publishRetry(p)
	r.bytes += uint64(len(payload))
	r.pending <- p
	r.mu.Lock()
	r.queued -= len(payload)
	r.mu.Unlock()
	c.consumed(0, len(payload))
}

// trackInput awaits the stream's acknowledgement of each recorded input frame, in order.
func (c *Channel) trackInput() {
	defer close(c.rin.done)
	for p := range c.rin.pending {
		c.await(p)
	}
}

// inputCredit holds back the client's input credit until its bytes have been both written
// to the process and, when input is recorded, published on Rin: a stream slow to take the
// record slows the client down rather than filling the agent's memory.
type inputCredit struct {
	mu                          sync.Mutex
	written, recorded, credited uint64
}

// consumed counts input bytes written to the process and bytes published on Rin, and
// reports to the client what both have taken. Without recording, written bytes count at
// once.
func (c *Channel) consumed(written, recorded int) {
	if !c.cfg.RecordInput {
		c.reportConsumed(written)
		return
	}
	cr := &c.credit
	cr.mu.Lock() // held while reporting, so reports leave in order
	defer cr.mu.Unlock()
	cr.written += uint64(written)
	cr.recorded += uint64(recorded)
	if n := min(cr.written, cr.recorded) - cr.credited; n > 0 {
		cr.credited += n
		c.reportConsumed(int(n))
	}
}
