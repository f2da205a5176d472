package attacks_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// One user sending requests as fast as 64 goroutines can: the control plane tells it it
// is busy (and logs it), while another user's requests and an agent's heartbeats all go
// through, and a session on the agent survives an agent-lost timeout shorter than the
// flood.
func TestFloodOneUserStarvesNobody(t *testing.T) {
	const lostAfter = 2 * time.Second
	w := newWorld(t, func(o *brokerd.Options) {
		o.HeartbeatInterval = 100 * time.Millisecond
		o.AgentLostAfter = lostAfter
	})
	a := w.agent(t, "web-1")
	hb := floodHeartbeats(t, a, 100*time.Millisecond, lostAfter)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	bob := w.user(t, "bob", nil, map[string]string{"env": "test"})
	running := w.startSession(t, bob.Conn, "bob", a.id)
	floodLeave(t, w, a)

	// The flood: 64 requests of alice's always in flight, each answered before the next.
	var ok, busy atomic.Int64
	var mu sync.Mutex
	var other []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	endFlood := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(endFlood) // should the test end early
	floodStart := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				err := api.Call(ctx, alice.Conn, subjects.API("alice", api.VerbWhoAmI), nil, nil)
				cancel()
				var ae *api.Error
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &ae) && ae.Code == api.CodeUnavailable && strings.HasPrefix(ae.Message, "busy:") && strings.Contains(ae.Message, "retry"):
					busy.Add(1)
				default:
					mu.Lock()
					other = append(other, err)
					mu.Unlock()
				}
			}
		}()
	}
	brokertest.WaitFor(t, 10*time.Second, "alice to be told she is busy", func() bool { return busy.Load() > 0 })

	// Bob, meanwhile: a hundred requests one after the other, none retried, then a look at
	// his sessions.
	var bobFailed []error
	for range 100 {
		var who api.WhoAmIResponse
		err := w.Call(bob.Conn, "bob", api.VerbWhoAmI, nil, &who)
		if err == nil && who.Principal.Name != "bob" {
			err = errors.New("whoami answered " + who.Principal.Name)
		}
		if err != nil {
			bobFailed = append(bobFailed, err)
		}
	}
	var ds api.DescribeSessionsResponse
	err := w.Call(bob.Conn, "bob", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &ds)
	if err == nil && (len(ds.Sessions) != 1 || ds.Sessions[0].ID != running.Session.ID) {
		err = fmt.Errorf("bob's running session is not listed: %+v", ds.Sessions)
	}
	if err != nil {
		bobFailed = append(bobFailed, err)
	}
	// The flood lasts at least twice the agent-lost timeout, whatever bob's pace.
	brokertest.WaitFor(t, 10*time.Second, "the flood to outlast the agent-lost timeout twice", func() bool { return time.Since(floodStart) >= 2*lostAfter })
	endFlood()
	floodTook := time.Since(floodStart)

	t.Logf("flood of %v: alice %d served, %d busy", floodTook, ok.Load(), busy.Load())
	if len(bobFailed) > 0 {
		t.Errorf("%d of bob's 101 requests failed during the flood, e.g. %v", len(bobFailed), bobFailed[0])
	}
	if len(other) > 0 {
		t.Errorf("%d of alice's requests got neither an answer nor busy, e.g. %v", len(other), other[0])
	}
	if busy.Load() == 0 || ok.Load() == 0 {
		t.Errorf("alice got %d answers and %d busy errors; want both", ok.Load(), busy.Load())
	}
	hb.check(t)

	// The refusal is logged with alice's account; bob and the agent were never refused.
	w.logged(t, "request refused", "caller=U_alice", "busy")
	for _, who := range []string{"U_bob", accounts.AccountName(accounts.KindAgent, a.id)} {
		if l := floodLogLine(w, "request refused", "caller="+who); l != "" {
			t.Errorf("%s was refused: %s", who, l)
		}
	}
	// The session on the agent is still running: not ended as agent_lost.
	var got api.GetSessionResponse
	if err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: running.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.Ended() || got.Session.State != api.StateConnected {
		t.Errorf("the session on the agent is %s (%s) after the flood; want it still connected", got.Session.State, got.Session.Reason)
	}
	if l := floodLogLine(w, "agent connection lost"); l != "" {
		t.Errorf("the agent was taken for lost during the flood: %s", l)
	}
}

// A compromised agent sending its own requests (Register, the costliest: a bucket write
// each) as fast as 64 goroutines can: it is told it is busy, and another agent's
// heartbeats, which arrive on the same control-plane connection, all pass; its session
// outlives an agent-lost timeout shorter than the flood.
func TestFloodOneAgentStarvesNoOtherAgent(t *testing.T) {
	const lostAfter = 2 * time.Second
	w := newWorld(t, func(o *brokerd.Options) {
		o.HeartbeatInterval = 100 * time.Millisecond
		o.AgentLostAfter = lostAfter
	})
	x := w.agent(t, "web-1")
	y := w.agent(t, "web-2")
	hb := floodHeartbeats(t, y, 100*time.Millisecond, lostAfter)
	floodLeave(t, w, x, y)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	running := w.startSession(t, alice.Conn, "alice", y.id)

	var ok, busy atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	endFlood := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(endFlood)
	register := api.RegisterRequest{RunID: x.run, Hostname: "flood", OS: "linux", Arch: "amd64", AgentVersion: "test"}
	floodStart := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				err := api.Call(ctx, x.Conn, subjects.AgentAPI(x.id, api.VerbRegister), register, nil)
				cancel()
				var ae *api.Error
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &ae) && ae.Code == api.CodeUnavailable && strings.HasPrefix(ae.Message, "busy:"):
					busy.Add(1)
				}
			}
		}()
	}
	brokertest.WaitFor(t, 10*time.Second, "the flood to outlast the agent-lost timeout twice", func() bool {
		return time.Since(floodStart) >= 2*lostAfter
	})
	endFlood()
	t.Logf("flood of %v: %d registrations, %d busy", time.Since(floodStart), ok.Load(), busy.Load())
	if busy.Load() == 0 {
		t.Error("the flooding agent was never told it was busy")
	}
	hb.check(t)
	w.logged(t, "request refused", "caller="+accounts.AccountName(accounts.KindAgent, x.id), "busy")
	if l := floodLogLine(w, "request refused", "caller="+accounts.AccountName(accounts.KindAgent, y.id)); l != "" {
		t.Errorf("the other agent was refused: %s", l)
	}
	var got api.GetSessionResponse
	if err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: running.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.State != api.StateConnected {
		t.Errorf("the other agent's session is %s (%s) after the flood; want it still connected", got.Session.State, got.Session.Reason)
	}
}

// A compromised agent publishing frames of 1 MiB for a session that is not its own, as
// fast as it can and without waiting for answers: the control plane, which receives the
// refused frames on the connection agents' requests also arrive on, keeps answering
// another agent's heartbeats, and nothing reaches the stream.
func TestFloodRefusedFramesStarveNoAgent(t *testing.T) {
	const lostAfter = 2 * time.Second
	w := newWorld(t, func(o *brokerd.Options) {
		o.HeartbeatInterval = 100 * time.Millisecond
		o.AgentLostAfter = lostAfter
	})
	x := w.agent(t, "web-1")
	y := w.agent(t, "web-2")
	x.keepAlive(100 * time.Millisecond)
	hb := floodHeartbeats(t, y, 100*time.Millisecond, lostAfter)
	floodLeave(t, w, x, y)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	running := w.startSession(t, alice.Conn, "alice", y.id)
	before := w.snapshot(t)

	data := frame.Encode(frame.Frame{Type: frame.Stdout, Seq: 1, Payload: make([]byte, 1<<20-64)})
	forged := subjects.ForSession(x.id, "alice", running.Session.ID).Out
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	endFlood := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(endFlood)
	floodStart := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if x.Publish(forged, data) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	brokertest.WaitFor(t, 10*time.Second, "the flood to outlast the agent-lost timeout twice", func() bool {
		return time.Since(floodStart) >= 2*lostAfter
	})
	endFlood()
	total, byTarget := w.Control.RefusedFrames()
	t.Logf("flood of %v: %d MiB sent, %d frames refused", time.Since(floodStart), sent.Load(), total)
	if total == 0 || byTarget[x.id] != total {
		t.Errorf("refused frames: %d in all, by instance %v; want some, all of %s", total, byTarget, x.id)
	}
	hb.check(t)
	var got api.GetSessionResponse
	if err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: running.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.State != api.StateConnected {
		t.Errorf("the other agent's session is %s (%s) after the flood; want it still connected", got.Session.State, got.Session.Reason)
	}
	w.unchanged(t, before)
	w.logged(t, "frame refused", x.id)
}

// floodBeat is an agent heartbeating on a schedule, recording each heartbeat's outcome.
type floodBeat struct {
	mu       sync.Mutex
	n        int
	failed   []error
	slowest  time.Duration
	lastOK   time.Time
	widest   time.Duration // the longest time without an answered heartbeat
	deadline time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// floodHeartbeats heartbeats as a every interval until the test ends; each heartbeat must
// be answered within deadline (the agent-lost timeout: later is as good as lost).
func floodHeartbeats(t *testing.T, a *fakeAgent, every, deadline time.Duration) *floodBeat {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hb := &floodBeat{deadline: deadline, lastOK: time.Now(), cancel: cancel}
	t.Cleanup(hb.stop)
	hb.wg.Add(1)
	go func() {
		defer hb.wg.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			cctx, ccancel := context.WithTimeout(ctx, deadline)
			start := time.Now()
			err := api.Call(cctx, a.Conn, subjects.AgentAPI(a.id, api.VerbHeartbeat), api.HeartbeatRequest{RunID: a.run}, nil)
			took := time.Since(start)
			ccancel()
			if ctx.Err() != nil {
				return // the test is over; this one does not count
			}
			hb.mu.Lock()
			hb.n++
			hb.slowest = max(hb.slowest, took)
			if err != nil {
				hb.failed = append(hb.failed, err)
			} else {
				now := time.Now()
				hb.widest = max(hb.widest, now.Sub(hb.lastOK))
				hb.lastOK = now
			}
			hb.mu.Unlock()
		}
	}()
	return hb
}

// stop ends the heartbeats: the agent falls silent.
func (hb *floodBeat) stop() {
	hb.cancel()
	hb.wg.Wait()
}

// check fails t if a heartbeat failed, or if the agent went longer without an answered
// heartbeat than the broker waits before taking it for lost.
func (hb *floodBeat) check(t *testing.T) {
	t.Helper()
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if len(hb.failed) > 0 {
		t.Errorf("%d of %d heartbeats failed, e.g. %v", len(hb.failed), hb.n, hb.failed[0])
	}
	if widest := max(hb.widest, time.Since(hb.lastOK)); widest >= hb.deadline {
		t.Errorf("%v without an answered heartbeat; the agent is lost after %v", widest, hb.deadline)
	}
	t.Logf("%d heartbeats, the slowest answered in %v, at most %v between two", hb.n, hb.slowest, hb.widest)
}

// floodLeave disconnects the agents when the test ends, before the broker closes, and
// waits until the server has dropped them: the broker's close then ends their sessions at
// once instead of waiting the agent timeout for an agent that is no longer there.
func floodLeave(t *testing.T, w *world, agents ...*fakeAgent) {
	t.Helper()
	t.Cleanup(func() {
		for _, a := range agents {
			a.Close()
			acc := accounts.AccountName(accounts.KindAgent, a.id)
			brokertest.WaitFor(t, 5*time.Second, "the server to drop "+a.id, func() bool { return floodAccountConns(t, w, acc) == 0 })
		}
	})
}

// floodLogLine is the first log line holding every one of parts, or "".
func floodLogLine(w *world, parts ...string) string {
	w.logs.mu.Lock()
	defer w.logs.mu.Unlock()
	for _, l := range w.logs.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return l
		}
	}
	return ""
}

// One key opening more connections than a user may hold: those past the limit are
// refused and logged, the ones before keep working, and other users connect as ever.
func TestFloodConnectionsPerKey(t *testing.T) {
	w := newWorld(t)
	seed := w.AddUser("carol", nil, nil)
	limit := accounts.UserLimits.Conns
	conns := make([]*nats.Conn, limit)
	for i := range conns {
		conns[i] = w.ConnectUser("carol", seed)
	}
	extra, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed),
		nats.CustomInboxPrefix(subjects.UserInbox("carol")), nats.NoReconnect())...)
	if err == nil {
		extra.Close()
		t.Fatalf("connection %d with one key was accepted; the limit is %d", limit+1, limit)
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connection past the limit: %v; want an authorization violation", err)
	}
	w.logged(t, "connection refused", "user:carol", "the limit is")
	if n := floodAccountConns(t, w, "U_carol"); n != limit {
		t.Errorf("carol's account holds %d connections; want %d", n, limit)
	}

	for _, i := range []int{0, limit - 1} {
		var who api.WhoAmIResponse
		if err := w.Call(conns[i], "carol", api.VerbWhoAmI, nil, &who); err != nil {
			t.Errorf("carol's connection %d after the refusal: %v", i, err)
		}
	}
	bob := w.user(t, "bob", nil, nil)
	if err := w.Call(bob.Conn, "bob", api.VerbWhoAmI, nil, nil); err != nil {
		t.Errorf("another user while carol is at her limit: %v", err)
	}

	// The limit is on connections held, not a lockout: one closed makes room for one.
	conns[0].Close()
	brokertest.WaitFor(t, 5*time.Second, "the server to drop carol's closed connection", func() bool {
		return floodAccountConns(t, w, "U_carol") == limit-1
	})
	again := w.ConnectUser("carol", seed)
	if err := w.Call(again, "carol", api.VerbWhoAmI, nil, nil); err != nil {
		t.Errorf("carol's connection once under her limit again: %v", err)
	}
}

// Connections with one key made all at once, from none: of many racing each other, the
// limit and no more are let in. A race needs luck to show, so the burst is repeated.
func TestFloodConnectionsPerKeyAtOnce(t *testing.T) {
	w := newWorld(t)
	seed := w.AddUser("carol", nil, nil)
	limit := accounts.UserLimits.Conns
	for round := range 8 {
		var mu sync.Mutex
		var accepted []*nats.Conn
		var wg sync.WaitGroup
		for range 6 * limit {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed),
					nats.CustomInboxPrefix(subjects.UserInbox("carol")), nats.NoReconnect())...)
				if err != nil {
					return
				}
				mu.Lock()
				accepted = append(accepted, nc)
				mu.Unlock()
			}()
		}
		wg.Wait()
		held := floodAccountConns(t, w, "U_carol")
		for _, nc := range accepted {
			nc.Close()
		}
		if held > limit || len(accepted) > limit {
			t.Fatalf("round %d: %d of %d connections made at once with one key accepted, %d held; the limit is %d",
				round, len(accepted), 6*limit, held, limit)
		}
		brokertest.WaitFor(t, 5*time.Second, "the server to drop carol's connections", func() bool {
			return floodAccountConns(t, w, "U_carol") == 0
		})
	}
}

// floodAccountConns is how many client connections the server holds in account acc.
func floodAccountConns(t *testing.T, w *world, acc string) int {
	t.Helper()
	cz, err := w.NATS.Connz(&server.ConnzOptions{Account: acc, Limit: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	return cz.NumConns
}

// One connection subscribing past the limit of a user's connection: the server refuses
// the subscription and holds no more than the limit.
func TestFloodSubscriptionsPerConnection(t *testing.T) {
	w := newWorld(t)
	dave := w.user(t, "dave", nil, nil)
	// A request first, so that nats.go's own reply subscription exists and the
	// connection can still ask once it is at its limit.
	if err := w.Call(dave.Conn, "dave", api.VerbWhoAmI, nil, nil); err != nil {
		t.Fatal(err)
	}
	limit := accounts.UserLimits.Subs
	have := floodConnSubs(t, w, dave.Conn)
	for i := have; i < limit; i++ {
		if _, err := dave.SubscribeSync(subjects.UserInbox("dave") + ".flood." + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := dave.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := floodConnSubs(t, w, dave.Conn); n != limit {
		t.Fatalf("the server holds %d subscriptions of dave's connection; want %d", n, limit)
	}
	if _, err := dave.SubscribeSync(subjects.UserInbox("dave") + ".flood.over"); err != nil {
		t.Fatal(err)
	}
	_ = dave.Flush()
	brokertest.WaitFor(t, 5*time.Second, "the server to refuse the subscription", func() bool {
		for _, e := range dave.v.Errs() {
			if strings.Contains(e, "maximum subscriptions exceeded") {
				return true
			}
		}
		return false
	})
	if n := floodConnSubs(t, w, dave.Conn); n != limit {
		t.Errorf("the server holds %d subscriptions of dave's connection after the refusal; want %d", n, limit)
	}
	if err := w.Call(dave.Conn, "dave", api.VerbWhoAmI, nil, nil); err != nil {
		t.Errorf("dave's connection at its limit: %v", err)
	}
}

// floodConnSubs is how many subscriptions the server holds for nc.
func floodConnSubs(t *testing.T, w *world, nc *nats.Conn) int {
	t.Helper()
	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	cz, err := w.NATS.Connz(&server.ConnzOptions{CID: cid})
	if err != nil || len(cz.Conns) != 1 {
		t.Fatalf("connection %d: %v", cid, err)
	}
	return int(cz.Conns[0].NumSubs)
}

// Failed authentications from one address: the first few are answered at once, then
// each is held longer than the one before (natsembed's backoff). Only a lower bound on
// the time is asserted, which no scheduling delay can break. The refusal is logged, but
// once a minute per address (the log is sampled), so the log shows the first failure
// only; a good key from the same address still connects.
func TestFloodFailedAuthenticationsSlowed(t *testing.T) {
	w := newWorld(t)
	unknown, _ := brokertest.NewKey(t)
	try := func() {
		t.Helper()
		nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, unknown), nats.NoReconnect())...)
		if err == nil {
			nc.Close()
			t.Fatal("an unknown key connected")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("unknown key: %v; want an authorization violation", err)
		}
	}
	// natsembed's backoff: 5 failures free, then 100ms, doubling.
	const free = 5
	for range free {
		try()
	}
	start := time.Now()
	for range 3 {
		try()
	}
	if took, least := time.Since(start), 700*time.Millisecond; took < least {
		t.Errorf("failures 6 to 8 from one address were answered in %v; want at least %v (100+200+400ms)", took, least)
	}
	w.logged(t, "connection refused", "unknown nkey", "recent_failures=1")
	erin := w.user(t, "erin", nil, nil)
	if err := w.Call(erin.Conn, "erin", api.VerbWhoAmI, nil, nil); err != nil {
		t.Errorf("a good key from the slowed address: %v", err)
	}
}
