package fwd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/natstest"
	"github.com/tetherhq/tether/streams/netload"
	"github.com/tetherhq/tether/streams/peertest"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// publisher numbers the frames it publishes on one subject, as a session's sender does.
type publisher struct {
	nc      *nats.Conn
	subject string
	mu      sync.Mutex
	seq     uint64
}

func (p *publisher) send(t frame.Type, flags uint8, buf []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	frame.PutHeader(buf, t, flags, p.seq)
	return p.nc.Publish(p.subject, buf)
}

// feed hands the frames published on subject to m, in order.
func feed(t testing.TB, nc *nats.Conn, subject string, m *Mux) {
	t.Helper()
	sub, err := nc.Subscribe(subject, func(msg *nats.Msg) {
		f, err := frame.Decode(msg.Data)
		if err != nil || !Is(f) {
			t.Errorf("bad frame on %s: %v", subject, err)
			return
		}
		_ = m.Handle(f)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// pair is a client Mux and an agent Mux joined by NATS; the agent dials dests.
type pair struct {
	client, agent *Mux
	ended         chan Ended
}

func newPair(t testing.TB, cfg Config, dests ...string) *pair {
	t.Helper()
	return newPairDialing(t, cfg, func(o Open) (net.Conn, error) {
		if int(o.Dest) >= len(dests) {
			return nil, fmt.Errorf("no destination %d", o.Dest)
		}
		return net.Dial("tcp", dests[o.Dest])
	}, nil)
}

// newPairDialing is newPair with the agent's way of reaching each destination, and lose,
// when not nil, saying which of the client's frames are lost on the way.
func newPairDialing(t testing.TB, cfg Config, dial func(Open) (net.Conn, error), lose func(frame.Type) bool) *pair {
	t.Helper()
	nc := natstest.Connect(t, nil)
	p := &pair{ended: make(chan Ended, 64)}
	ccfg, acfg := cfg, cfg
	in := &publisher{nc: nc, subject: "in"}
	ccfg.Send = func(t frame.Type, flags uint8, buf []byte) error {
		if lose != nil && lose(t) {
			return nil
		}
		return in.send(t, flags, buf)
	}
	acfg.Send = (&publisher{nc: nc, subject: "ctl"}).send
	acfg.Accept = func(c *Conn, o Open) {
		local, err := dial(o)
		if err != nil {
			c.Refuse(err.Error())
			return
		}
		if err := c.Accept(); err != nil {
			local.Close()
			return
		}
		p.ended <- Splice(c, local)
	}
	p.client, p.agent = NewMux(ccfg), NewMux(acfg)
	feed(t, nc, "in", p.agent)
	feed(t, nc, "ctl", p.client)
	t.Cleanup(func() { p.client.Close("test over"); p.agent.Close("test over") })
	return p
}

// serve serves handle on a free loopback port until the test ends.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	srv, err := netload.Listen("127.0.0.1:0", handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// echoServer echoes each connection until its client half-closes, then half-closes.
func echoServer(t testing.TB) string { return serve(t, netload.Echo) }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A client that shuts its write side still gets the whole response.
func TestEchoWithHalfClose(t *testing.T) {
	p := newPair(t, Config{}, echoServer(t))
	c, err := p.client.Open(context.Background(), 0, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 9<<20+17)
	go func() {
		if _, err := c.Write(data); err != nil {
			t.Error(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Error(err)
		}
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("echo: got %d bytes, want %d, different", len(got), len(data))
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not done after both sides closed")
	}
	e := <-p.ended
	if e.Err != nil || e.Reset != "" || e.LocalFirst {
		t.Fatalf("agent side ended %+v, want the client first and clean", e)
	}
	if in, out := c.Bytes(); in != uint64(len(data)) || out != uint64(len(data)) {
		t.Fatalf("bytes in %d out %d", in, out)
	}
	if err := polltest.Wait(5*time.Second, func() error {
		if n := p.client.Len() + p.agent.Len(); n != 0 {
			return fmt.Errorf("%d connections left", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A connection whose reader stalls holds at most its window; a busy neighbour goes on.
func TestStalledReaderBesideBusyStream(t *testing.T) {
	// A source: writes to whoever connects until the connection goes.
	source := serve(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	const window = 1 << 20
	p := newPair(t, Config{Window: window}, source, echoServer(t))
	stalled, err := p.client.Open(context.Background(), 0, "stalled")
	if err != nil {
		t.Fatal(err)
	}
	// The stalled connection fills its window and stays there.
	if err := polltest.Wait(10*time.Second, func() error {
		if in, _ := stalled.Bytes(); in < window/2 {
			return fmt.Errorf("only %d bytes in", in)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	busy, err := p.client.Open(context.Background(), 1, "busy")
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 32<<20)
	go func() {
		_, _ = busy.Write(data)
		_ = busy.CloseWrite()
	}()
	got, err := io.ReadAll(busy)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("busy connection: %d bytes, %v", len(got), err)
	}
	stalled.mu.Lock()
	held := stalled.qBytes
	stalled.mu.Unlock()
	if held > window+DefaultChunk {
		t.Fatalf("the stalled connection holds %d bytes, beyond its window %d", held, window)
	}
	if in, _ := stalled.Bytes(); in > window+DefaultChunk {
		t.Fatalf("the stalled connection received %d bytes, beyond its window", in)
	}
	// Reading it again resumes it.
	if _, err := io.ReadFull(stalled, make([]byte, 3*window)); err != nil {
		t.Fatal(err)
	}
	stalled.Reset("done")
}

func TestRefusedOpen(t *testing.T) {
	p := newPair(t, Config{}, peertest.RefusingAddr(t))
	_, err := p.client.Open(context.Background(), 0, "x")
	var r *RefusedError
	if !errors.As(err, &r) || !strings.Contains(r.Reason, "refused") {
		t.Fatalf("open of a closed port = %v, want a refusal saying so", err)
	}
	_, err = p.client.Open(context.Background(), 7, "x")
	if !errors.As(err, &r) || r.Reason != "no destination 7" {
		t.Fatalf("open of no destination = %v", err)
	}
	if n := p.client.Len(); n != 0 {
		t.Fatalf("%d refused connections left", n)
	}
}

// Closing the Mux (the session ended) ends every connection on both sides.
func TestCloseEndsEverything(t *testing.T) {
	p := newPair(t, Config{}, echoServer(t))
	var conns []*Conn
	for range 5 {
		c, err := p.client.Open(context.Background(), 0, "x")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	p.agent.Close("session_end")
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("connection open after the agent closed")
		}
		if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "session_end") {
			t.Fatalf("read after close = %v", err)
		}
	}
	for range 5 {
		if e := <-p.ended; e.Reset == "" {
			t.Fatalf("agent side ended %+v, want a reset", e)
		}
	}
	if _, err := p.agent.Open(context.Background(), 0, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("open after close = %v", err)
	}
}

// A peer that sends beyond the window, or skips frames, has its connection reset.
func TestPeerViolations(t *testing.T) {
	var sent []Close
	var mu sync.Mutex
	m := NewMux(Config{Window: 1024, Chunk: 512, Send: func(t frame.Type, flags uint8, buf []byte) error {
		if t == frame.FwdClose {
			c, err := DecodeClose(buf[frame.HeaderLen:])
			if err == nil {
				mu.Lock()
				sent = append(sent, c)
				mu.Unlock()
			}
		}
		return nil
	}, Accept: func(c *Conn, o Open) { _ = c.Accept() }})
	open := func(id uint32) {
		if err := m.Handle(frame.Frame{Type: frame.FwdOpen, Payload: AppendOpen(nil, Open{ID: id})}); err != nil {
			t.Fatal(err)
		}
	}
	data := func(id, seq uint32, n int) error {
		p := make([]byte, DataLen+n)
		PutData(p, id, seq)
		return m.Handle(frame.Frame{Type: frame.FwdData, Payload: p})
	}
	open(1)
	open(2)
	if err := data(1, 1, 1000); err != nil {
		t.Fatal(err)
	}
	if err := data(1, 2, 1000); err == nil {
		t.Fatal("data beyond the window accepted")
	}
	if err := data(2, 2, 10); err == nil {
		t.Fatal("a gap in the frames accepted")
	}
	if err := m.Handle(frame.Frame{Type: frame.FwdOpen, Payload: AppendOpen(nil, Open{ID: 3})}); err != nil {
		t.Fatal(err)
	}
	if err := m.Handle(frame.Frame{Type: frame.FwdOpen, Payload: AppendOpen(nil, Open{ID: 3})}); err != nil {
		t.Fatalf("a repeated open (TestOpenRepeatedUntilAnswered) = %v", err)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("%d connections after a repeated open, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 || sent[0].ID != 1 || sent[1].ID != 2 || sent[0].Kind != Reset {
		t.Fatalf("resets sent: %+v", sent)
	}
}

func TestMaxConns(t *testing.T) {
	p := newPair(t, Config{MaxConns: 2}, echoServer(t))
	for range 2 {
		if _, err := p.client.Open(context.Background(), 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.client.Open(context.Background(), 0, ""); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("third open = %v", err)
	}
}

// A side whose local ends read nothing holds at most the session's budget, however many
// connections the peer fills: past it, the connection holding the most is reset, saying
// why, and the others go on.
func TestBudgetBoundsASession(t *testing.T) {
	const window, chunk, budget = 64 << 10, 16 << 10, 200 << 10
	p := newPairDialing(t, Config{Window: window, Chunk: chunk, Budget: budget}, stalledDial(t, echoServer(t)), nil)
	client, agent, ended := p.client, p.agent, p.ended

	// Three windows fit in the budget. (The chunk Splice is writing into a pipe counts
	// until the pipe takes it, which it never does.)
	var stalled []*Conn
	fill := func() {
		c, err := client.Open(context.Background(), 0, "stalled")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, window)); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	for range 3 {
		fill()
	}
	want := int64(3 * window)
	if err := polltest.Wait(10*time.Second, func() error {
		if q := agent.budget.Queued(); q != want {
			return fmt.Errorf("agent holds %d bytes, want %d", q, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, c := range stalled {
		if err := c.Err(); err != nil {
			t.Fatalf("stalled connection %d reset within the budget: %v", i, err)
		}
	}

	// A fourth passes it: one connection is reset, and says why.
	fill()
	reset := waitResets(t, stalled)
	if len(reset) != 1 || !strings.Contains(reset[0].Error(), "more than 200 KiB their local ends had not read") {
		t.Fatalf("resets past the budget: %v", reset)
	}
	if q := agent.budget.Queued(); q > budget {
		t.Fatalf("agent holds %d bytes, beyond its budget %d", q, budget)
	}
	// The side that reset it reports a failure of its own (the agent: reason error).
	select {
	case e := <-ended:
		if !errors.Is(e.Err, ErrOverBudget) || e.Reset != "" {
			t.Fatalf("the reset connection ended %+v, want ErrOverBudget", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reset connection's splice did not end")
	}

	// The others are open, and a new connection works.
	c, err := client.Open(context.Background(), 1, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("still here"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "still here" {
		t.Fatalf("echo after the reset: %q, %v", got, err)
	}
	if n := agent.Len(); n != 4 {
		t.Fatalf("agent has %d connections open, want 3 stalled and the echo", n)
	}
}

// waitResets waits until a connection of conns is reset and returns their errors.
func waitResets(t *testing.T, conns []*Conn) []error {
	t.Helper()
	var reset []error
	if err := polltest.Wait(10*time.Second, func() error {
		reset = reset[:0]
		for _, c := range conns {
			if err := c.Err(); err != nil {
				reset = append(reset, err)
			}
		}
		if len(reset) == 0 {
			return errors.New("no connection reset past the budget")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return reset
}

// stalledDial reaches destination 1 at echo and every other at a pipe nobody reads: a
// destination that takes nothing.
func stalledDial(t *testing.T, echo string) func(Open) (net.Conn, error) {
	var (
		mu      sync.Mutex
		holders []net.Conn // the far ends of the stalled destinations, never read
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range holders {
			h.Close()
		}
	})
	return func(o Open) (net.Conn, error) {
		if o.Dest == 1 {
			return net.Dial("tcp", echo)
		}
		near, far := net.Pipe()
		mu.Lock()
		holders = append(holders, far)
		mu.Unlock()
		return near, nil
	}
}

// Sessions sharing a budget (an agent's) hold at most it together, though each is
// within its own: past it, the connection holding the most, in whichever session, is
// reset, saying why. A connection that ends leaves the budget.
func TestSharedBudgetBoundsAnAgent(t *testing.T) {
	const window, chunk, shared = 64 << 10, 16 << 10, 200 << 10
	agentBudget := NewBudget(shared, "this agent's")
	cfg := Config{Window: window, Chunk: chunk, Budget: 1 << 20, Shared: agentBudget}
	echo := echoServer(t)
	a, b := newPairDialing(t, cfg, stalledDial(t, echo), nil), newPairDialing(t, cfg, stalledDial(t, echo), nil)
	var stalled []*Conn
	fill := func(p *pair) {
		c, err := p.client.Open(context.Background(), 0, "stalled")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, window)); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	fill(a)
	fill(a)
	fill(b)
	if err := polltest.Wait(10*time.Second, func() error {
		if q := agentBudget.Queued(); q != 3*window {
			return fmt.Errorf("the agent's sessions hold %d bytes, want %d", q, 3*window)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fill(b) // each session holds two windows, within its own budget; together, beyond the agent's
	reset := waitResets(t, stalled)
	if len(reset) != 1 || !strings.Contains(reset[0].Error(), "this agent's connections held more than 200 KiB their local ends had not read") {
		t.Fatalf("resets past the agent's budget: %v", reset)
	}
	if q := agentBudget.Queued(); q > shared {
		t.Fatalf("the agent's sessions hold %d bytes, beyond the budget %d", q, shared)
	}
	if q := a.agent.budget.Queued() + b.agent.budget.Queued(); q != agentBudget.Queued() {
		t.Fatalf("the sessions' own budgets count %d bytes, the agent's %d", q, agentBudget.Queued())
	}
	// Sessions that end leave nothing counted. (Both sides of the pairs share it here.)
	for _, m := range []*Mux{a.agent, a.client, b.agent, b.client} {
		m.Close("over")
	}
	agentBudget.mu.Lock()
	left := len(agentBudget.conns)
	agentBudget.mu.Unlock()
	if q := agentBudget.Queued(); q != 0 || left != 0 {
		t.Fatalf("after the sessions ended the agent's budget counts %d bytes of %d connections", q, left)
	}
}

// An Open the peer never answers (lost with a restarting broker, every repeat too) fails
// after the open timeout, saying so, and the peer is told, should one arrive after all.
func TestOpenTimesOut(t *testing.T) {
	var mu sync.Mutex
	var sent []frame.Type
	m := NewMux(Config{OpenTimeout: 50 * time.Millisecond, Send: func(t frame.Type, _ uint8, _ []byte) error {
		mu.Lock()
		sent = append(sent, t)
		mu.Unlock()
		return nil // lost
	}})
	_, err := m.Open(context.Background(), 0, "x")
	if err == nil || !strings.Contains(err.Error(), "no answer from the other side in 50ms") {
		t.Fatalf("open with no answer = %v", err)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("%d connections left after the timeout", n)
	}
	mu.Lock()
	defer mu.Unlock()
	n := len(sent)
	if n < 3 || sent[n-1] != frame.FwdClose {
		t.Fatalf("frames sent: %v, want the open, its repeats and a reset", sent)
	}
	for _, f := range sent[:n-1] {
		if f != frame.FwdOpen {
			t.Fatalf("frames sent: %v, want the open, its repeats and a reset", sent)
		}
	}
}

// An Open lost on the way (a broker restarting, the peer not yet subscribed again) is
// sent again until answered; the peer answers each repeat of an accepted one with an
// acknowledgement, and takes a repeat of one that is over for what it is, not a new
// connection.
func TestOpenRepeatedUntilAnswered(t *testing.T) {
	echo := echoServer(t)
	var (
		mu      sync.Mutex
		opens   int // FwdOpen frames the client sent
		accepts int // connections the agent accepted (each dials once)
	)
	p := newPairDialing(t, Config{OpenTimeout: 600 * time.Millisecond}, func(Open) (net.Conn, error) {
		mu.Lock()
		accepts++
		mu.Unlock()
		return net.Dial("tcp", echo)
	}, func(t frame.Type) bool {
		if t != frame.FwdOpen {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		opens++
		return opens == 1 // the first is lost
	})
	client, agent := p.client, p.agent

	c, err := client.Open(context.Background(), 0, "x")
	if err != nil {
		t.Fatalf("open whose first frame was lost = %v", err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(c); err != nil || string(got) != "ping" {
		t.Fatalf("echo through the repeated open: %q, %v", got, err)
	}
	<-c.Done()
	if err := polltest.Wait(10*time.Second, func() error {
		if n := agent.Len(); n != 0 {
			return fmt.Errorf("%d connections open on the agent", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Late repeats of that Open, now that its connection is over, open nothing.
	for range 3 {
		if err := agent.Handle(frame.Frame{Type: frame.FwdOpen, Payload: AppendOpen(nil, Open{ID: c.ID()})}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if accepts != 1 || agent.Len() != 0 {
		t.Fatalf("accepted %d connections (%d open) for one Open sent %d times, want 1", accepts, agent.Len(), opens)
	}
}
