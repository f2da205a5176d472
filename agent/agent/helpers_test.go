package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/flow"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

const (
	instanceID = "mi-test1"
	transcript = "TRANSCRIPTS"
	waitLong   = 20 * time.Second
)

// startServer starts an embedded NATS server with JetStream storing in dir. AlwaysEnableNonce
// lets the agent sign with its key although the server has no authentication configured.
func startServer(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		AlwaysEnableNonce: true, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	return s
}

// env is one test's broker: a NATS server with the transcript stream and a fake control
// plane.
type env struct {
	t     *testing.T
	store string
	srv   *server.Server
	url   string
	nc    *nats.Conn
	js    jetstream.JetStream
	cp    *controlPlane
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, store: t.TempDir()}
	e.srv = startServer(t, -1, e.store)
	e.url = e.srv.ClientURL()
	t.Cleanup(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
	nc, err := nats.Connect(e.url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	e.js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: transcript, Subjects: []string{subjects.Transcripts, subjects.RecordedInput},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	e.cp = newControlPlane(t, nc)
	return e
}

// restart stops the server and starts a new one on the same port and store.
func (e *env) restart() {
	e.t.Helper()
	port := e.srv.Addr().(*net.TCPAddr).Port
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.srv = startServer(e.t, port, e.store)
}

// provision writes an enrolled identity into a fresh state dir.
func provision(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	st, _ := json.Marshal(agent.State{InstanceID: instanceID, BrokerURL: "nats://x"})
	if err := os.WriteFile(filepath.Join(dir, agent.SeedFile), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, agent.StateFile), st, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// runAgent runs an agent until the test ends (or stop is called) and returns it.
func (e *env) runAgent(cfg agent.Config) (a *agent.Agent, stop func() error) {
	e.t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = provision(e.t)
	}
	cfg.BrokerURL = e.url
	if cfg.Logger == nil {
		cfg.Logger = testLogger(e.t)
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = 200 * time.Millisecond
	}
	a, err := agent.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.cp.mu.Lock()
	before := len(e.cp.registers)
	e.cp.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(waitLong):
				e.t.Error("Run did not return after cancel")
			}
		})
		return runErr
	}
	e.t.Cleanup(func() { _ = stop() })
	e.cp.waitRegistered(e.t, before+1)
	return a, stop
}

// controlPlane answers the agent API and enrollment and records what it got.
type controlPlane struct {
	mu         sync.Mutex
	registers  []api.RegisterRequest
	heartbeats []api.HeartbeatRequest
	ended      map[string]api.SessionEndedRequest
	enrolls    []api.EnrollRequest
	fwdOpens   []api.ForwardOpenRequest
	fwdClosed  []api.ForwardClosedRequest
	fwdDeny    map[int]string // destination index → the reason policy denies it
	// Behaviour.
	heartbeat  time.Duration
	endOnBeat  []string
	enrollErr  *api.Error
	beatErr    *api.Error // answers every heartbeat from now on
	instanceID string
}

func newControlPlane(t *testing.T, nc *nats.Conn) *controlPlane {
	cp := &controlPlane{ended: map[string]api.SessionEndedRequest{}, instanceID: instanceID, heartbeat: time.Second}
	for subj, h := range map[string]nats.MsgHandler{subjects.AgentAPIAll: cp.onAgentAPI, subjects.EnrollAll: cp.onEnroll} {
		if _, err := nc.Subscribe(subj, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return cp
}

func respond(m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	_ = m.Respond(b)
}

func respondErr(m *nats.Msg, e *api.Error) {
	b, _ := json.Marshal(e)
	r := nats.NewMsg(m.Reply)
	r.Data = b
	r.Header.Set(micro.ErrorCodeHeader, e.Code)
	r.Header.Set(micro.ErrorHeader, e.Message)
	_ = m.RespondMsg(r)
}

func (cp *controlPlane) onAgentAPI(m *nats.Msg) {
	_, verb, _ := subjects.APIParts(m.Subject)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	switch verb {
	case api.VerbRegister:
		var r api.RegisterRequest
		_ = json.Unmarshal(m.Data, &r)
		cp.registers = append(cp.registers, r)
		respond(m, api.RegisterResponse{InstanceID: cp.instanceID, HeartbeatInterval: cp.heartbeat})
	case api.VerbHeartbeat:
		var r api.HeartbeatRequest
		_ = json.Unmarshal(m.Data, &r)
		cp.heartbeats = append(cp.heartbeats, r)
		if cp.beatErr != nil {
			respondErr(m, cp.beatErr)
			return
		}
		respond(m, api.HeartbeatResponse{EndSessions: cp.endOnBeat})
		cp.endOnBeat = nil
	case api.VerbSessionEnded:
		var r api.SessionEndedRequest
		_ = json.Unmarshal(m.Data, &r)
		cp.ended[r.SessionID] = r
		respond(m, api.Empty{})
	case api.VerbForwardOpen:
		var r api.ForwardOpenRequest
		_ = json.Unmarshal(m.Data, &r)
		cp.fwdOpens = append(cp.fwdOpens, r)
		if reason, ok := cp.fwdDeny[r.Dest]; ok {
			respond(m, api.ForwardOpenResponse{Reasons: []string{reason}})
			return
		}
		respond(m, api.ForwardOpenResponse{Allowed: true})
	case api.VerbForwardClosed:
		var r api.ForwardClosedRequest
		_ = json.Unmarshal(m.Data, &r)
		cp.fwdClosed = append(cp.fwdClosed, r)
		respond(m, api.Empty{})
	}
}

func (cp *controlPlane) onEnroll(m *nats.Msg) {
	var r api.EnrollRequest
	_ = json.Unmarshal(m.Data, &r)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.enrolls = append(cp.enrolls, r)
	if cp.enrollErr != nil {
		respondErr(m, cp.enrollErr)
		return
	}
	respond(m, api.EnrollResponse{InstanceID: cp.instanceID})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	polltest.Until(t, waitLong, what, cond)
}

func (cp *controlPlane) waitRegistered(t *testing.T, n int) api.RegisterRequest {
	t.Helper()
	var r api.RegisterRequest
	eventually(t, "registration", func() bool {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		if len(cp.registers) >= n {
			r = cp.registers[len(cp.registers)-1]
			return true
		}
		return false
	})
	return r
}

func (cp *controlPlane) waitEnded(t *testing.T, id string) api.SessionEndedRequest {
	t.Helper()
	var r api.SessionEndedRequest
	eventually(t, "SessionEnded of "+id, func() bool {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		var ok bool
		r, ok = cp.ended[id]
		return ok
	})
	return r
}

// control sends a raw control request to the agent and returns its reply.
func (e *env) control(body []byte) api.AgentReply {
	e.t.Helper()
	m, err := e.nc.Request(subjects.AgentControl(instanceID), body, 5*time.Second)
	if err != nil {
		e.t.Fatalf("control request: %v", err)
	}
	var r api.AgentReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		e.t.Fatalf("control reply %q: %v", m.Data, err)
	}
	return r
}

func (e *env) controlJSON(c api.AgentControl) api.AgentReply {
	b, _ := json.Marshal(c)
	return e.control(b)
}

// client is a session's client end.
type client struct {
	t      *testing.T
	e      *env
	id     string
	subj   api.Subjects
	out    chan *nats.Msg
	ctl    chan *nats.Msg
	seq    uint64
	ack    bool // report consumed output as it arrives
	resync bool // fill gaps from the transcript stream
	acker  *flow.Acker
	frames [][]byte // every Out message, as received
	text   bytes.Buffer
	exit   *frame.ExitStatus
	sizes  []frame.Size
	stderr bytes.Buffer
}

// startSession asks the agent for a session and subscribes to its output first.
func (e *env) startSession(id string, st api.AgentStart) *client {
	e.t.Helper()
	s := subjects.ForSession(instanceID, "alice", id)
	st.SessionID, st.Owner = id, "alice"
	st.Subjects = api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl, Rin: s.Rin}
	c := &client{t: e.t, e: e, id: id, subj: st.Subjects, out: make(chan *nats.Msg, 4096), ctl: make(chan *nats.Msg, 4096), ack: true}
	w := st.Window
	if w == 0 {
		w = frame.DefaultWindow
	}
	c.acker = flow.NewAcker(w)
	for subj, ch := range map[string]chan *nats.Msg{s.Out: c.out, s.Ctl: c.ctl} {
		sub, err := e.nc.ChanSubscribe(subj, ch)
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if r := e.controlJSON(api.AgentControl{Start: &st}); !r.OK {
		e.t.Fatalf("start session %s: %s", id, r.Error)
	}
	return c
}

func (c *client) send(t frame.Type, payload []byte) {
	c.t.Helper()
	c.seq++
	if err := c.e.nc.Publish(c.subj.In, frame.Encode(frame.Frame{Type: t, Seq: c.seq, Payload: payload})); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) stdin(s string) { c.send(frame.Stdin, []byte(s)) }

// next receives the next Out frame within d, checking its sequence number; ok is false on
// timeout.
func (c *client) next(d time.Duration) (frame.Frame, bool) {
	c.t.Helper()
	select {
	case m := <-c.out:
		f, err := frame.Decode(m.Data)
		if err != nil {
			c.t.Fatalf("bad frame from agent: %v", err)
		}
		want := uint64(len(c.frames) + 1)
		switch {
		case f.Seq < want: // a retried publish: the agent republishes the same frame
			return f, true
		case f.Seq > want && c.resync:
			// A core subscription loses messages while the connection is down: fetch the
			// missing frames from the transcript.
			for _, data := range c.fromStream(want, f.Seq) {
				c.handle(data)
			}
		case f.Seq > want:
			c.t.Fatalf("frame seq %d, want %d", f.Seq, want)
		}
		c.handle(m.Data)
		return f, true
	case <-time.After(d):
		if c.ack {
			if total, report := c.acker.Flush(); report {
				c.send(frame.Window, frame.EncodeWindow(total))
			}
		}
		return frame.Frame{}, false
	}
}

// fromStream reads frames [from, to) of the session from the transcript stream.
func (c *client) fromStream(from, to uint64) [][]byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cons, err := c.e.js.OrderedConsumer(ctx, transcript, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.subj.Out}})
	if err != nil {
		c.t.Fatal(err)
	}
	got := map[uint64][]byte{}
	for uint64(len(got)) < to-from {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			c.t.Fatalf("resync frames %d-%d: %v", from, to-1, err)
		}
		if f, err := frame.Decode(m.Data()); err == nil && f.Seq >= from && f.Seq < to {
			got[f.Seq] = m.Data()
		}
	}
	out := make([][]byte, 0, len(got))
	for s := from; s < to; s++ {
		out = append(out, got[s])
	}
	return out
}

func (c *client) handle(data []byte) {
	c.t.Helper()
	f, _ := frame.Decode(data)
	if c.exit != nil {
		c.t.Fatalf("frame %d (%v) after Exit", f.Seq, f.Type)
	}
	c.frames = append(c.frames, data)
	switch f.Type {
	case frame.Stdout:
		c.text.Write(f.Payload)
	case frame.Stderr:
		c.stderr.Write(f.Payload)
	case frame.Resize:
		s, _ := frame.DecodeSize(f.Payload)
		c.sizes = append(c.sizes, s)
	case frame.Exit:
		st, err := frame.DecodeExit(f.Payload)
		if err != nil {
			c.t.Fatal(err)
		}
		c.exit = &st
	}
	if f.Type.IsData() && c.ack {
		if total, report := c.acker.Consumed(len(f.Payload)); report {
			c.send(frame.Window, frame.EncodeWindow(total))
		}
	}
}

// waitOutput reads frames until the output contains s.
func (c *client) waitOutput(s string) {
	c.t.Helper()
	deadline := time.Now().Add(waitLong)
	for !strings.Contains(c.text.String(), s) {
		if c.exit != nil || time.Now().After(deadline) {
			c.t.Fatalf("output never contained %q; got %q (exit %+v)", s, tail(c.text.String()), c.exit)
		}
		c.next(50 * time.Millisecond)
	}
}

// waitExit reads frames until the Exit frame.
func (c *client) waitExit() frame.ExitStatus {
	c.t.Helper()
	deadline := time.Now().Add(waitLong)
	for c.exit == nil {
		if time.Now().After(deadline) {
			c.t.Fatalf("no Exit frame; output %q", tail(c.text.String()))
		}
		c.next(50 * time.Millisecond)
	}
	return *c.exit
}

func tail(s string) string {
	if len(s) > 400 {
		return "…" + s[len(s)-400:]
	}
	return s
}
