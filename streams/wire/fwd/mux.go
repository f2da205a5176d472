package fwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/streams/wire/flow"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// Defaults of a Mux.
const (
	// DefaultWindow is each connection's receive window: the bytes a sender may have in
	// flight on it. It bounds what a connection's reader holds, whatever the peer does.
	DefaultWindow = 4 << 20
	// DefaultChunk is the largest data payload a sender puts in one frame.
	DefaultChunk = 256 << 10
	// DefaultMaxConns bounds the connections open at once in one session.
	DefaultMaxConns = 1024
	// DefaultOpenTimeout bounds the wait for the peer's answer to an Open: one lost with
	// the broker (restarting, say) must not leave its connection waiting for ever.
	DefaultOpenTimeout = 30 * time.Second
	// DefaultBudget bounds the data received and not yet taken by the local ends of all
	// of a session's connections together: 64 full windows.
	DefaultBudget = 256 << 20
)

// Sender publishes one frame for a Mux: buf[:frame.HeaderLen] is free for the header,
// which Send writes (frame.PutHeader) with its own sequence number, and the payload
// follows it. Send must not keep buf.
type Sender func(t frame.Type, flags uint8, buf []byte) error

// Config configures a Mux.
type Config struct {
	Send Sender
	// Window is each connection's receive window in bytes (DefaultWindow when 0).
	Window int
	// Chunk is the largest data payload of a frame (DefaultChunk when 0).
	Chunk int
	// MaxConns bounds the connections open at once (DefaultMaxConns when 0).
	MaxConns int
	// Budget bounds the bytes received and not yet taken by the local ends of all the
	// connections together (DefaultBudget when 0): see type Budget.
	Budget int
	// Shared, when set, is a budget this Mux's connections count against besides their
	// own: the agent's, shared by all its sessions, so that many sessions are not many
	// budgets.
	Shared *Budget
	// OpenTimeout bounds the wait for the peer's answer to Open (DefaultOpenTimeout when 0).
	// Until then the Open is sent again every sixth of it (5 s by default): one lost with
	// a restarting broker, or sent while the peer was reconnecting, is not the end of the
	// connection. The peer answers a repeated Open once.
	OpenTimeout time.Duration
	// Accept, on the side that accepts connections (the agent), is called in a goroutine
	// of its own for each connection the peer opens: it must call Accept or Refuse on it.
	// Without it every open is refused.
	Accept func(c *Conn, o Open)
	// OnData, when set, is called for each data frame sent or received: traffic, which
	// keeps an idle timeout at bay (keepalives do not call it).
	OnData func()
}

// Mux multiplexes a session's forwarded connections over its frames. Frames from the
// peer go to Handle, in the order they arrived; frames to the peer go out through
// Config.Send. Each connection has its own credit window, so one whose reader stalls
// holds at most a window and never slows the others.
type Mux struct {
	cfg Config

	mu     sync.Mutex
	conns  map[uint32]*Conn
	nextID uint32
	closed error
	// over holds the ids of the last overMax connections that ended (or were refused
	// before they began): a repeated Open of one of them is late, not a new connection.
	over     map[uint32]bool
	overRing []uint32
	overNext int

	budget *Budget // its own: Config.Budget
}

// NewMux returns a Mux.
func NewMux(cfg Config) *Mux {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = DefaultChunk
	}
	cfg.Chunk = min(cfg.Chunk, frame.MaxPayload-DataLen, max(cfg.Window/2, 1))
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = DefaultOpenTimeout
	}
	return &Mux{cfg: cfg, conns: make(map[uint32]*Conn), budget: NewBudget(cfg.Budget, "the session's")}
}

// RefusedError is the error of an Open the peer refused, or of a connection the peer
// reset: Reason is the peer's.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// ErrClosed is the error of a Mux's connections after Close, wrapped with its reason.
var ErrClosed = errors.New("forwarding closed")

// ErrOverBudget is the error of a connection this side reset because the session held
// more than Config.Budget (wrapped with the figures); the peer gets it as a reset's reason.
var ErrOverBudget = errors.New("connection reset")

// Conn is one forwarded connection: an io.ReadWriter with half-close.
type Conn struct {
	m      *Mux
	id     uint32
	opened time.Time

	mu       sync.Mutex
	q        [][]byte // received data not yet read
	qBytes   int
	rseq     uint32 // last data frame number received
	rEOF     bool   // the peer sends no more
	wEOF     bool   // we send no more
	err      error  // the connection was reset: reads and writes fail with it
	wake     chan struct{}
	ready    chan struct{} // closed when the peer accepted (or refused) an Open of ours
	accepted bool          // this side accepted the peer's Open
	done     chan struct{} // closed when the connection is over both ways
	isDone   bool

	acker   *flow.Acker
	win     *flow.Window
	budgets []*Budget // the Mux's own, and Config.Shared

	wmu  sync.Mutex // one writer at a time
	sseq uint32
	buf  []byte

	in, out atomic.Uint64 // bytes received from and sent to the peer
}

func (m *Mux) newConn(id uint32) *Conn {
	c := &Conn{
		m: m, id: id, opened: time.Now(),
		wake:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		acker:   flow.NewAcker(m.cfg.Window),
		win:     flow.NewWindow(m.cfg.Window),
		budgets: []*Budget{m.budget},
	}
	if m.cfg.Shared != nil {
		c.budgets = append(c.budgets, m.cfg.Shared)
	}
	for _, b := range c.budgets {
		b.join(c)
	}
	return c
}

// Len returns the number of connections open.
func (m *Mux) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.conns)
}

// Open opens a connection to destination dest, saying peer is the local end of it, and
// waits until the peer accepts it (a *RefusedError when it refuses), ctx ends, or
// Config.OpenTimeout passes.
func (m *Mux) Open(ctx context.Context, dest uint16, peer string) (*Conn, error) {
	if len(peer) > MaxPeer {
		peer = peer[:MaxPeer]
	}
	m.mu.Lock()
	if m.closed != nil {
		m.mu.Unlock()
		return nil, m.closed
	}
	if len(m.conns) >= m.cfg.MaxConns {
		m.mu.Unlock()
		return nil, fmt.Errorf("too many forwarded connections open (%d)", m.cfg.MaxConns)
	}
	m.nextID++
	if m.nextID == 0 {
		m.nextID = 1
	}
	o := Open{ID: m.nextID, Dest: dest, Peer: peer}
	c := m.newConn(o.ID)
	m.conns[o.ID] = c
	m.mu.Unlock()
	if err := m.send(frame.FwdOpen, 0, AppendOpen(header(), o)); err != nil {
		c.fail(err, false)
		return nil, err
	}
	timeout := time.NewTimer(m.cfg.OpenTimeout)
	defer timeout.Stop()
	again := time.NewTicker(m.cfg.OpenTimeout / 6)
	defer again.Stop()
wait:
	for {
		select {
		case <-c.ready:
			break wait
		case <-ctx.Done():
			c.Reset("the client gave up waiting for the connection to open")
			return nil, ctx.Err()
		case <-timeout.C:
			err := fmt.Errorf("no answer from the other side in %v (was it, or the broker, restarting?)", m.cfg.OpenTimeout)
			c.Reset(err.Error())
			return nil, err
		case <-again.C:
			_ = m.send(frame.FwdOpen, 0, AppendOpen(header(), o)) // a failure is the timeout's to report
		}
	}
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// header returns a buffer with room for a frame header.
func header() []byte { return make([]byte, frame.HeaderLen, frame.HeaderLen+64) }

func (m *Mux) send(t frame.Type, flags uint8, buf []byte) error {
	return m.cfg.Send(t, flags, buf)
}

// Close resets every connection with reason and refuses new ones. The peer is told.
func (m *Mux) Close(reason string) {
	m.mu.Lock()
	if m.closed == nil {
		m.closed = fmt.Errorf("%w: %s", ErrClosed, reason)
	}
	conns := make([]*Conn, 0, len(m.conns))
	for _, c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		c.fail(m.closed, true)
	}
}

// Handle takes one frame from the peer (one for which Is is true). It never blocks: a
// connection's data waits for its reader within its window. It returns an error for a
// frame it could not make sense of; the connection it names, if any, is reset.
func (m *Mux) Handle(f frame.Frame) error {
	switch f.Type {
	case frame.FwdData:
		id, seq, data, err := DecodeData(f.Payload)
		if err != nil {
			return err
		}
		if c := m.conn(id); c != nil {
			return c.received(seq, data)
		}
		return nil // a connection that is over: its last frames were in flight
	case frame.FwdOpen:
		o, err := DecodeOpen(f.Payload)
		if err != nil {
			return err
		}
		if f.Flags&frame.FlagAck != 0 {
			if c := m.conn(o.ID); c != nil {
				select {
				case <-c.ready: // an answer to a repeated Open: the first one counted
				default:
					c.mu.Lock()
					c.opened = time.Now()
					c.mu.Unlock()
					c.readyOnce()
				}
			}
			return nil
		}
		return m.accept(o)
	case frame.FwdClose:
		cl, err := DecodeClose(f.Payload)
		if err != nil {
			return err
		}
		c := m.conn(cl.ID)
		if c == nil {
			return nil
		}
		if cl.Kind == Reset {
			reason := cl.Reason
			if reason == "" {
				reason = "the connection was reset"
			}
			c.fail(&RefusedError{Reason: reason}, false)
			return nil
		}
		c.mu.Lock()
		c.rEOF = true
		c.mu.Unlock()
		c.signal()
		c.maybeDone()
		return nil
	case frame.Window:
		id, n, err := DecodeWindow(f.Payload)
		if err != nil {
			return err
		}
		if c := m.conn(id); c != nil {
			c.win.Ack(n)
		}
		return nil
	}
	return fmt.Errorf("fwd: frame type %s is not port forwarding's", f.Type)
}

// overMax is how many ended connections a Mux remembers (Mux.over): far more than end
// within the few seconds an Open can be repeated late.
const overMax = 4096

// ended remembers that connection id is over; m.mu is held.
func (m *Mux) ended(id uint32) {
	if m.over == nil {
		m.over, m.overRing = make(map[uint32]bool), make([]uint32, 0, overMax)
	}
	if m.over[id] {
		return
	}
	if len(m.overRing) < overMax {
		m.overRing = append(m.overRing, id)
	} else {
		delete(m.over, m.overRing[m.overNext])
		m.overRing[m.overNext] = id
		m.overNext = (m.overNext + 1) % overMax
	}
	m.over[id] = true
}

func (m *Mux) conn(id uint32) *Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns[id]
}

// accept handles the peer's Open.
func (m *Mux) accept(o Open) error {
	refuse := func(reason string) error {
		m.mu.Lock()
		m.ended(o.ID)
		m.mu.Unlock()
		return m.send(frame.FwdClose, 0, AppendClose(header(), Close{ID: o.ID, Kind: Reset, Reason: reason}))
	}
	m.mu.Lock()
	switch {
	case m.cfg.Accept == nil:
		m.mu.Unlock()
		return refuse("this side accepts no connections")
	case m.closed != nil:
		m.mu.Unlock()
		return refuse(m.closed.Error())
	case m.conns[o.ID] != nil: // a repeat (Config.OpenTimeout): answer again once accepted
		c := m.conns[o.ID]
		m.mu.Unlock()
		c.mu.Lock()
		accepted := c.accepted
		c.mu.Unlock()
		if accepted {
			return m.send(frame.FwdOpen, frame.FlagAck, AppendOpen(header(), Open{ID: o.ID}))
		}
		return nil // the answer comes with Accept or Refuse
	case m.over[o.ID]: // a repeat of a connection that is over: it was answered
		m.mu.Unlock()
		return nil
	case len(m.conns) >= m.cfg.MaxConns:
		m.mu.Unlock()
		return refuse(fmt.Sprintf("too many forwarded connections open (%d)", m.cfg.MaxConns))
	}
	c := m.newConn(o.ID)
	m.conns[o.ID] = c
	m.mu.Unlock()
	go m.cfg.Accept(c, o)
	return nil
}

// ID returns the connection's id in its session.
func (c *Conn) ID() uint32 { return c.id }

// OpenedAt returns when the connection opened.
func (c *Conn) OpenedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened
}

// Accept tells the peer the connection is open.
func (c *Conn) Accept() error {
	c.mu.Lock()
	c.opened = time.Now()
	c.accepted = true
	c.mu.Unlock()
	if err := c.m.send(frame.FwdOpen, frame.FlagAck, AppendOpen(header(), Open{ID: c.id})); err != nil {
		c.fail(err, false)
		return err
	}
	return nil
}

// Refuse tells the peer the connection will not open, and why.
func (c *Conn) Refuse(reason string) { c.fail(&RefusedError{Reason: reason}, true) }

// Reset ends the connection both ways at once, telling the peer why.
func (c *Conn) Reset(reason string) { c.fail(&RefusedError{Reason: reason}, true) }

// Done is closed when the connection is over: both sides closed their writing, or it
// was reset.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection was reset, or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Bytes returns the bytes received from the peer and sent to it.
func (c *Conn) Bytes() (in, out uint64) { return c.in.Load(), c.out.Load() }

func (c *Conn) readyOnce() {
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// fail resets the connection with err, telling the peer when tell is set; the first
// error wins.
func (c *Conn) fail(err error, tell bool) {
	c.mu.Lock()
	if c.err != nil || c.isDone {
		c.mu.Unlock()
		return
	}
	c.err = err
	held := c.qBytes
	c.q, c.qBytes = nil, 0
	c.mu.Unlock()
	c.charge(-held)
	c.win.Close()
	c.signal()
	if tell {
		_ = c.m.send(frame.FwdClose, 0, AppendClose(header(), Close{ID: c.id, Kind: Reset, Reason: err.Error()}))
	}
	c.finish()
	// Last: an Open waiting on ready returns once the connection is gone from the Mux.
	c.readyOnce()
}

// maybeDone finishes the connection once both sides are done writing and everything
// received has been read.
func (c *Conn) maybeDone() {
	c.mu.Lock()
	over := c.rEOF && c.wEOF && len(c.q) == 0
	c.mu.Unlock()
	if over {
		c.finish()
	}
}

func (c *Conn) finish() {
	c.mu.Lock()
	if c.isDone {
		c.mu.Unlock()
		return
	}
	c.isDone = true
	c.mu.Unlock()
	c.m.mu.Lock()
	if c.m.conns[c.id] == c {
		delete(c.m.conns, c.id)
		c.m.ended(c.id)
	}
	c.m.mu.Unlock()
	for _, b := range c.budgets {
		b.leave(c)
	}
	close(c.done)
}

// received queues data from the peer.
func (c *Conn) received(seq uint32, data []byte) error {
	c.mu.Lock()
	if c.err != nil || c.isDone {
		c.mu.Unlock()
		return nil
	}
	var bad string
	switch {
	case seq != c.rseq+1:
		bad = fmt.Sprintf("forwarded data lost: frame %d after %d", seq, c.rseq)
	case c.rEOF:
		bad = "forwarded data after the peer closed its side"
	case c.qBytes+len(data) > c.m.cfg.Window+c.m.cfg.Chunk:
		bad = fmt.Sprintf("the peer sent beyond its window of %d bytes", c.m.cfg.Window)
	}
	if bad != "" {
		c.mu.Unlock()
		c.fail(errors.New(bad), true)
		return errors.New(bad)
	}
	c.rseq = seq
	if len(data) > 0 {
		c.q = append(c.q, data)
		c.qBytes += len(data)
	}
	c.mu.Unlock()
	c.charge(len(data))
	c.in.Add(uint64(len(data)))
	if c.m.cfg.OnData != nil {
		c.m.cfg.OnData()
	}
	c.signal()
	return nil
}

// next waits for received data and returns the oldest chunk, or the error that ends
// reading (io.EOF after the peer's CloseWrite).
func (c *Conn) next() ([]byte, error) {
	for {
		c.mu.Lock()
		switch {
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return nil, err
		case len(c.q) > 0:
			b := c.q[0]
			c.mu.Unlock()
			return b, nil
		case c.rEOF:
			c.mu.Unlock()
			c.maybeDone()
			return nil, io.EOF
		}
		c.mu.Unlock()
		<-c.wake
	}
}

// consume drops n bytes of the oldest chunk, which the reader has taken, and reports
// what was consumed when the window asks for it.
func (c *Conn) consume(n int) {
	c.mu.Lock()
	took := 0
	if len(c.q) > 0 {
		if n >= len(c.q[0]) {
			c.q[0] = nil
			c.q = c.q[1:]
		} else {
			c.q[0] = c.q[0][n:]
		}
		c.qBytes -= n
		took = n
	}
	c.mu.Unlock()
	c.charge(-took)
	if total, report := c.acker.Consumed(n); report {
		_ = c.m.send(frame.Window, frame.FlagStream, AppendWindow(header(), c.id, total))
	}
}

// Read reads data the peer sent; io.EOF after it closed its side.
func (c *Conn) Read(p []byte) (int, error) {
	b, err := c.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	c.consume(n)
	return n, nil
}

// WriteTo writes what the peer sends to w until the peer closes its side (nil) or the
// connection is reset; it copies nothing on the way.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := c.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(b)
		total += int64(n)
		c.consume(n)
		if err != nil {
			return total, err
		}
	}
}

func (c *Conn) buffer() []byte {
	if c.buf == nil {
		c.buf = make([]byte, frame.HeaderLen+DataLen+c.m.cfg.Chunk)
	}
	return c.buf
}

// sendData sends the n bytes at buf[HeaderLen+DataLen:] once the window has room.
func (c *Conn) sendData(n int) error {
	if err := c.win.Acquire(context.Background(), n); err != nil {
		if e := c.Err(); e != nil {
			return e
		}
		return err
	}
	c.sseq++
	b := c.buf[:frame.HeaderLen+DataLen+n]
	PutData(b[frame.HeaderLen:], c.id, c.sseq)
	if err := c.m.send(frame.FwdData, 0, b); err != nil {
		c.fail(err, false)
		return err
	}
	c.out.Add(uint64(n))
	if c.m.cfg.OnData != nil {
		c.m.cfg.OnData()
	}
	return nil
}

var errWriteClosed = errors.New("fwd: write after CloseWrite")

// Write sends p to the peer, waiting for credit as needed.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return 0, err
	}
	buf := c.buffer()
	done := 0
	for done < len(p) {
		n := copy(buf[frame.HeaderLen+DataLen:], p[done:])
		if err := c.sendData(n); err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// ReadFrom sends what r yields until io.EOF (then it returns nil; the caller calls
// CloseWrite), reading straight into the frame it sends.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return 0, err
	}
	buf := c.buffer()
	var total int64
	for {
		n, err := r.Read(buf[frame.HeaderLen+DataLen:])
		if n > 0 {
			if err := c.sendData(n); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (c *Conn) writable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.wEOF {
		return errWriteClosed
	}
	return nil
}

// CloseWrite tells the peer nothing more comes from this side; reading goes on.
func (c *Conn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		if err == errWriteClosed {
			return nil
		}
		return err
	}
	c.mu.Lock()
	c.wEOF = true
	c.mu.Unlock()
	if err := c.m.send(frame.FwdClose, 0, AppendClose(header(), Close{ID: c.id, Kind: CloseWrite})); err != nil {
		c.fail(err, false)
		return err
	}
	c.maybeDone()
	return nil
}
