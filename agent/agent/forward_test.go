package agent_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/streams/netload"
	"github.com/tetherhq/tether/streams/peertest"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/fwd"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// fwdClient is a port forwarding session's client: a Mux over the session's subjects.
type fwdClient struct {
	mux  *fwd.Mux
	out  chan *nats.Msg
	subj api.Subjects
}

func (e *env) startForward(id string, st api.AgentStart) *fwdClient {
	e.t.Helper()
	s := subjects.ForSession(instanceID, "alice", id)
	st.SessionID, st.Owner = id, "alice"
	st.Subjects = api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl}
	c := &fwdClient{out: make(chan *nats.Msg, 64), subj: st.Subjects}
	var mu sync.Mutex
	var seq uint64
	c.mux = fwd.NewMux(fwd.Config{Send: func(t frame.Type, flags uint8, buf []byte) error {
		mu.Lock()
		defer mu.Unlock()
		seq++
		frame.PutHeader(buf, t, flags, seq)
		return e.nc.Publish(s.In, buf)
	}})
	ctl, err := e.nc.Subscribe(s.Ctl, func(m *nats.Msg) {
		if f, err := frame.Decode(m.Data); err == nil && fwd.Is(f) {
			_ = c.mux.Handle(f)
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	_ = ctl.SetPendingLimits(-1, -1)
	out, err := e.nc.ChanSubscribe(s.Out, c.out)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = ctl.Unsubscribe(); _ = out.Unsubscribe(); c.mux.Close("test over") })
	if r := e.controlJSON(api.AgentControl{Start: &st}); !r.OK {
		e.t.Fatalf("start session %s: %s", id, r.Error)
	}
	// The first frame attaches the client.
	mu.Lock()
	seq++
	err = e.nc.Publish(s.In, frame.Encode(frame.Frame{Type: frame.Keepalive, Seq: seq}))
	mu.Unlock()
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// exit waits for the session's Exit frame.
func (c *fwdClient) exit(t *testing.T) frame.ExitStatus {
	t.Helper()
	for {
		select {
		case m := <-c.out:
			f, err := frame.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if f.Type == frame.Exit {
				st, err := frame.DecodeExit(f.Payload)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		case <-time.After(waitLong):
			t.Fatal("no Exit frame")
		}
	}
}

// echoListener echoes every connection on a new listener of network at addr.
func echoListener(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := netload.Serve(l, netload.Echo)
	t.Cleanup(func() { srv.Close() })
	return l
}

func (cp *controlPlane) closedReports() []api.ForwardClosedRequest {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]api.ForwardClosedRequest(nil), cp.fwdClosed...)
}

// echo sends data through c, half-closes, and returns what came back.
func echo(c *fwd.Conn, data []byte) ([]byte, error) {
	go func() {
		_, _ = c.Write(data)
		_ = c.CloseWrite()
	}()
	return io.ReadAll(c)
}

// Many connections at once, to a TCP port and to a unix socket on the node, each with
// half-close, each reported with its bytes and how it ended.
func TestForwardSession(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	tcp := echoListener(t, "tcp", "127.0.0.1:0")
	sock := filepath.Join(t.TempDir(), "echo.sock")
	echoListener(t, "unix", sock)
	port := tcp.Addr().(*net.TCPAddr).Port
	c := e.startForward("alice-fwd1", api.AgentStart{Forwards: []api.Forward{{Port: port}, {UnixSocket: sock}, {Host: "127.0.0.1", Port: port}}})

	const conns = 24
	data := make([]byte, 1<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.mux.Open(context.Background(), uint16(i%3), fmt.Sprintf("127.0.0.1:%d", 40000+i))
			if err != nil {
				t.Errorf("open %d: %v", i, err)
				return
			}
			got, err := echo(st, data)
			if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
				t.Errorf("connection %d: %d bytes back, %v", i, len(got), err)
			}
		}()
	}
	wg.Wait()
	eventually(t, "every connection reported", func() bool { return len(e.cp.closedReports()) == conns })
	for _, r := range e.cp.closedReports() {
		if r.Reason != api.FwdClientClose || r.BytesIn != uint64(len(data)) || r.BytesOut != uint64(len(data)) || r.SessionID != "alice-fwd1" {
			t.Fatalf("report %+v", r)
		}
		want := fmt.Sprintf("127.0.0.1:%d", port)
		if r.Dest == 1 {
			want = sock
		}
		if r.Address != want || !strings.HasPrefix(r.Peer, "127.0.0.1:4") || r.ClosedAt.Before(r.OpenedAt) {
			t.Fatalf("report %+v: address want %s", r, want)
		}
	}
	e.cp.mu.Lock()
	opens := len(e.cp.fwdOpens)
	e.cp.mu.Unlock()
	if opens != conns {
		t.Fatalf("%d decisions asked for %d connections", opens, conns)
	}
}

// A denied, a refused and an unknown destination reach the client as refusals that say
// why, and are reported.
func TestForwardRefusals(t *testing.T) {
	e := newEnv(t)
	e.cp.fwdDeny = map[int]string{1: "port 5432 is for group dba"}
	e.runAgent(agent.Config{})
	_, port, _ := net.SplitHostPort(peertest.RefusingAddr(t))
	closed, _ := strconv.Atoi(port)
	c := e.startForward("alice-fwd2", api.AgentStart{Forwards: []api.Forward{{Port: closed}, {Host: "127.0.0.1", Port: 5432}}})
	var r *fwd.RefusedError
	if _, err := c.mux.Open(context.Background(), 0, "p"); !errors.As(err, &r) || !strings.Contains(r.Reason, "connection refused") {
		t.Fatalf("closed port: %v", err)
	}
	if _, err := c.mux.Open(context.Background(), 1, "p"); !errors.As(err, &r) || r.Reason != "denied by policy: port 5432 is for group dba" {
		t.Fatalf("denied: %v", err)
	}
	if _, err := c.mux.Open(context.Background(), 9, "p"); !errors.As(err, &r) || !strings.Contains(r.Reason, "no destination 9") {
		t.Fatalf("unknown destination: %v", err)
	}
	eventually(t, "three reports", func() bool { return len(e.cp.closedReports()) == 3 })
	reasons := map[string]int{}
	for _, r := range e.cp.closedReports() {
		reasons[r.Reason]++
	}
	if reasons[api.FwdRefused] != 1 || reasons[api.FwdPolicy] != 1 || reasons[api.FwdError] != 1 {
		t.Fatalf("reasons %v", reasons)
	}
}

// The agent says when the address it would dial is one of the node's own (loopback, or
// any interface's), so policy can treat an admin port there as the node's; a unix socket
// and an address elsewhere are not said to be.
func TestForwardSaysOnNode(t *testing.T) {
	e := newEnv(t)
	forwards := []api.Forward{{Host: "127.0.0.1", Port: 10250}, {Host: "203.0.113.77", Port: 10250}, {UnixSocket: "/tmp/no.sock"}}
	want := []bool{true, false, false}
	if own := nonLoopbackAddr(t); own != "" {
		forwards, want = append(forwards, api.Forward{Host: own, Port: 10250}), append(want, true)
	}
	e.cp.fwdDeny = map[int]string{}
	for i := range forwards {
		e.cp.fwdDeny[i] = "no"
	}
	e.runAgent(agent.Config{})
	c := e.startForward("alice-fwd-own", api.AgentStart{Forwards: forwards})
	for i := range forwards {
		if _, err := c.mux.Open(context.Background(), uint16(i), "p"); err == nil {
			t.Fatalf("destination %d opened despite the policy", i)
		}
	}
	e.cp.mu.Lock()
	defer e.cp.mu.Unlock()
	if len(e.cp.fwdOpens) != len(forwards) {
		t.Fatalf("%d decisions asked for %d connections", len(e.cp.fwdOpens), len(forwards))
	}
	for _, r := range e.cp.fwdOpens {
		if r.OnNode != want[r.Dest] {
			t.Errorf("destination %+v at %q: on_node %v, want %v", forwards[r.Dest], r.Address, r.OnNode, want[r.Dest])
		}
	}
}

// nonLoopbackAddr is an address of one of this machine's interfaces that is not loopback,
// or "" if it has none.
func nonLoopbackAddr(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Log("no non-loopback IPv4 address here: only loopback is tried")
	return ""
}

// Destinations that take nothing hold at most the agent's forward budget, all its
// sessions together: past it a connection is reset, saying why.
func TestForwardAgentBudget(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{ForwardBudget: 1 << 20})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted and never read
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	dest := []api.Forward{{Port: l.Addr().(*net.TCPAddr).Port}}
	var conns []*fwd.Conn
	for _, id := range []string{"alice-fwdb1", "alice-fwdb2"} {
		c := e.startForward(id, api.AgentStart{Forwards: dest})
		st, err := c.mux.Open(context.Background(), 0, "p")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, st)
		go func() { _, _ = st.Write(make([]byte, 64<<20)) }() // ends with the reset
	}
	want := "this agent's connections held more than 1 MiB their local ends had not read"
	if err := polltest.Wait(waitLong, func() error {
		for _, c := range conns {
			if err := c.Err(); err != nil {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("connection reset: %v; want %q", err, want)
				}
				return nil
			}
		}
		return errors.New("no connection reset")
	}); err != nil {
		t.Fatal(err)
	}
}

// The session's end closes every connection, each reported as ended with the session,
// and the session reports its own end.
func TestForwardSessionEndClosesConnections(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	tcp := echoListener(t, "tcp", "127.0.0.1:0")
	c := e.startForward("alice-fwd3", api.AgentStart{Forwards: []api.Forward{{Port: tcp.Addr().(*net.TCPAddr).Port}}})
	var open []*fwd.Conn
	for range 3 {
		st, err := c.mux.Open(context.Background(), 0, "p")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		// The echo back says the agent has taken the four bytes before the session ends.
		if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		open = append(open, st)
	}
	if r := e.controlJSON(api.AgentControl{Terminate: &api.AgentTerminate{SessionID: "alice-fwd3", Reason: api.ReasonTerminated}}); !r.OK {
		t.Fatal(r.Error)
	}
	for _, st := range open {
		select {
		case <-st.Done():
		case <-time.After(waitLong):
			t.Fatal("a connection outlived its session")
		}
	}
	if st := c.exit(t); st.Reason != api.ReasonTerminated {
		t.Fatalf("exit %+v", st)
	}
	ended := e.cp.waitEnded(t, "alice-fwd3")
	if ended.Reason != api.ReasonTerminated {
		t.Fatalf("ended %+v", ended)
	}
	// Every connection was reported before the session's end.
	reps := e.cp.closedReports()
	if len(reps) != 3 {
		t.Fatalf("%d reports before the session's end, want 3", len(reps))
	}
	for _, r := range reps {
		if r.Reason != api.FwdSessionEnd || r.BytesIn != 4 {
			t.Fatalf("report %+v", r)
		}
	}
}

func TestForwardStartChecks(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	s := subjects.ForSession(instanceID, "alice", "alice-bad")
	for _, st := range []api.AgentStart{
		{Forwards: []api.Forward{{Port: 0}}},
		{Forwards: []api.Forward{{Port: 70000}}},
		{Forwards: []api.Forward{{UnixSocket: "relative.sock"}}},
		{Forwards: []api.Forward{{UnixSocket: "/a/../b"}}},
		{Forwards: []api.Forward{{UnixSocket: "/s", Port: 1}}},
		{Forwards: []api.Forward{{Port: 80}}, Command: []string{"true"}},
		{Forwards: make([]api.Forward, api.MaxForwards+1)},
	} {
		st.SessionID, st.Owner = "alice-bad", "alice"
		st.Subjects = api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl}
		if r := e.controlJSON(api.AgentControl{Start: &st}); r.OK {
			t.Errorf("start %+v accepted", st.Forwards)
		}
	}
}
