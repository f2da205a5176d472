package attacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// world is a broker under attack, with a record of what it logged.
type world struct {
	*brokertest.Server
	logs *logRecorder
}

// newWorld starts a broker (brokertest defaults, fast heartbeats) whose log the test can
// search.
func newWorld(t *testing.T, opts ...brokertest.Option) *world {
	t.Helper()
	rec := &logRecorder{}
	opts = append([]brokertest.Option{func(o *brokerd.Options) { o.Logger = slog.New(rec) }}, opts...)
	return &world{Server: brokertest.NewServer(t, opts...), logs: rec}
}

// logRecorder is a slog.Handler that keeps every record, for tests that prove a refusal
// was logged.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrsHandler{r: r, attrs: as}
}

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	return r.add(rec, nil)
}

func (r *logRecorder) add(rec slog.Record, pre []slog.Attr) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	for _, a := range pre {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

type attrsHandler struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (h *attrsHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrsHandler) WithGroup(string) slog.Handler            { return h }
func (h *attrsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrsHandler{r: h.r, attrs: append(slices.Clip(h.attrs), as...)}
}
func (h *attrsHandler) Handle(_ context.Context, rec slog.Record) error {
	return h.r.add(rec, h.attrs)
}

// warnings are the WARN and ERROR lines logged so far, for a failure's message.
func (w *world) warnings() string {
	w.logs.mu.Lock()
	defer w.logs.mu.Unlock()
	var b strings.Builder
	for _, l := range w.logs.lines {
		if strings.HasPrefix(l, "WARN ") || strings.HasPrefix(l, "ERROR ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// logged waits until a log line contains every one of parts.
func (w *world) logged(t *testing.T, parts ...string) {
	t.Helper()
	brokertest.WaitFor(t, 5*time.Second, fmt.Sprintf("a log line with %q", parts), func() bool {
		w.logs.mu.Lock()
		defer w.logs.mu.Unlock()
		for _, l := range w.logs.lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				return true
			}
		}
		return false
	})
}

// conn is a raw nats.go connection of one principal, with the violations the server sent it.
type conn struct {
	*nats.Conn
	name string
	v    *brokertest.Violations
}

// user adds a user (groups and attributes as given) and connects as it, raw.
func (w *world) user(t *testing.T, name string, groups []string, attrs map[string]string) *conn {
	t.Helper()
	seed := w.AddUser(name, groups, attrs)
	return w.userWithSeed(t, name, seed)
}

func (w *world) userWithSeed(t *testing.T, name string, seed []byte) *conn {
	t.Helper()
	v := &brokertest.Violations{}
	nc := w.ConnectUser(name, seed, nats.ErrorHandler(v.Handler))
	return &conn{Conn: nc, name: name, v: v}
}

// agent enrolls an agent with an activation named name (tags env=test), connects with its
// key, registers, and answers the control plane: a stand-in for a compromised tether-agent.
func (w *world) agent(t *testing.T, name string) *fakeAgent {
	t.Helper()
	seed, id := w.enroll(t, name)
	v := &brokertest.Violations{}
	nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed),
		nats.CustomInboxPrefix(subjects.AgentInbox(id)), nats.ErrorHandler(v.Handler))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	a := &fakeAgent{t: t, conn: &conn{Conn: nc, name: id, v: v}, id: id, seed: seed, run: brokertest.NewRunID()}
	if _, err := nc.Subscribe(subjects.AgentControl(id), a.handle); err != nil {
		t.Fatal(err)
	}
	if err := api.Call(t.Context(), nc, subjects.AgentAPI(id, api.VerbRegister),
		api.RegisterRequest{RunID: a.run, Hostname: "fake", OS: "linux", Arch: "amd64", AgentVersion: "test"}, nil); err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
	return a
}

// enroll enrolls an agent by hand, as tether-agent would, and returns its seed and id.
func (w *world) enroll(t *testing.T, name string) ([]byte, string) {
	t.Helper()
	act := w.Activation(name, map[string]string{"env": "test"}, 1)
	seed, pub := brokertest.NewKey(t)
	nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed),
		nats.UserInfo(act.ID, act.Code), nats.CustomInboxPrefix(subjects.EnrollInbox(pub)))...)
	if err != nil {
		t.Fatalf("enrollment connection: %v", err)
	}
	defer nc.Close()
	var resp api.EnrollResponse
	if err := api.Call(t.Context(), nc, subjects.Enroll(act.ID, pub), api.EnrollRequest{Hostname: "h", OS: "linux"}, &resp); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return seed, resp.InstanceID
}

// fakeAgent is an enrolled agent connection that accepts every session it is asked to
// start and otherwise does what the test makes it do.
type fakeAgent struct {
	*conn
	t    *testing.T
	id   string
	seed []byte
	run  string // the run id it registered with

	mu     sync.Mutex
	starts []api.AgentStart
	terms  []api.AgentTerminate
}

func (a *fakeAgent) handle(m *nats.Msg) {
	var c api.AgentControl
	if err := json.Unmarshal(m.Data, &c); err != nil {
		return
	}
	a.mu.Lock()
	if c.Start != nil {
		a.starts = append(a.starts, *c.Start)
	}
	if c.Terminate != nil {
		a.terms = append(a.terms, *c.Terminate)
	}
	a.mu.Unlock()
	b, _ := json.Marshal(api.AgentReply{OK: true})
	_ = m.Respond(b)
}

// started is how many sessions the agent was asked to start.
func (a *fakeAgent) started() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.starts)
}

// keepAlive heartbeats until the test ends.
func (a *fakeAgent) keepAlive(every time.Duration) {
	brokertest.KeepAlive(a.t, a.Conn, a.id, a.run, every)
}

// publishFrame publishes one output frame through JetStream, as the agent records output,
// and returns the stream's answer.
func (a *fakeAgent) publishFrame(ctx context.Context, subject string, seq uint64, payload []byte, hdr nats.Header) (*jetstream.PubAck, error) {
	js, err := jetstream.New(a.Conn)
	if err != nil {
		return nil, err
	}
	m := &nats.Msg{Subject: subject, Header: hdr, Data: frame.Encode(frame.Frame{Type: frame.Stdout, Seq: seq, Payload: payload})}
	return js.PublishMsg(ctx, m)
}

// startSession starts a session of user (an admin's connection, or the user's own) on the
// fake agent and returns its start response.
func (w *world) startSession(t *testing.T, nc *nats.Conn, user, target string) api.StartSessionResponse {
	t.Helper()
	var start api.StartSessionResponse
	if err := w.Call(nc, user, api.VerbStartSession, api.StartSessionRequest{Target: target, Command: []string{"true"}}, &start); err != nil {
		t.Fatalf("start a session on %s as %s: %v", target, user, err)
	}
	return start
}

// state is what an attack must leave as it found it: every stream's messages and every
// bucket's entries, by sequence and revision.
type state struct {
	streams map[string]streamState
}

type streamState struct {
	first, last, msgs uint64
}

// snapshot reads the state of every stream and bucket the broker keeps.
func (w *world) snapshot(t *testing.T) state {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st := state{streams: map[string]streamState{}}
	names := []string{jsdef.StreamTranscripts, jsdef.StreamEvents, jsdef.StreamAudit}
	for _, b := range []string{jsdef.BucketDocuments, jsdef.BucketPolicy, jsdef.BucketRecordings, jsdef.BucketSessions,
		jsdef.BucketInstances, jsdef.BucketUsers, jsdef.BucketActivations} {
		names = append(names, "KV_"+b)
	}
	for _, n := range names {
		s, err := js.Stream(t.Context(), n)
		if err != nil {
			t.Fatalf("stream %s: %v", n, err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatalf("stream %s: %v", n, err)
		}
		st.streams[n] = streamState{first: info.State.FirstSeq, last: info.State.LastSeq, msgs: info.State.Msgs}
	}
	return st
}

// unchanged fails the test if a stream other than those named in except changed between
// before and now. The audit stream grows with every decision, so it is only checked not
// to have lost anything.
func (w *world) unchanged(t *testing.T, before state, except ...string) {
	t.Helper()
	after := w.snapshot(t)
	for n, b := range before.streams {
		a := after.streams[n]
		switch {
		case slices.Contains(except, n):
		case n == jsdef.StreamAudit || n == jsdef.StreamEvents:
			if a.first != b.first || a.last < b.last || a.msgs < b.msgs {
				t.Errorf("stream %s lost messages: %+v, was %+v", n, a, b)
			}
		case a != b:
			t.Errorf("stream %s changed: %+v, was %+v", n, a, b)
		}
	}
}
