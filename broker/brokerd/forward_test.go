package brokerd_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// auditOf reads every audit record of action stored so far.
func auditOf(t *testing.T, s *brokertest.Server, action string) []api.AuditRecord {
	t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(t.Context(), jsdef.StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.Audit(action)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var recs []api.AuditRecord
	for {
		batch, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var r api.AuditRecord
			if err := json.Unmarshal(m.Data(), &r); err != nil {
				t.Fatalf("audit record: %v", err)
			}
			recs = append(recs, r)
		}
		if n == 0 {
			return recs
		}
	}
}

// waitAudit waits for an audit record of action that match accepts, and returns it.
func waitAudit(t *testing.T, s *brokertest.Server, action string, match func(r api.AuditRecord, in map[string]any) bool) api.AuditRecord {
	t.Helper()
	var found api.AuditRecord
	brokertest.WaitFor(t, 10*time.Second, "a matching "+action+" audit record", func() bool {
		for _, r := range auditOf(t, s, action) {
			var in map[string]any
			if err := json.Unmarshal(r.Input, &in); err != nil {
				t.Fatalf("audit input: %v", err)
			}
			if match(r, in) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// streamCount is how many messages a stream holds on subject.
func streamCount(t *testing.T, s *brokertest.Server, stream, subject string) uint64 {
	t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func (a *fakeAgent) lastStart() api.AgentStart {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.starts[len(a.starts)-1]
}

// keepAlive heartbeats until the test ends.
func (a *fakeAgent) keepAlive() { brokertest.KeepAlive(a.t, a.nc, a.id, a.run, 200*time.Millisecond) }

func (a *fakeAgent) forwardOpen(r api.ForwardOpenRequest) (api.ForwardOpenResponse, error) {
	var resp api.ForwardOpenResponse
	err := api.Call(a.t.Context(), a.nc, subjects.AgentAPI(a.id, api.VerbForwardOpen), r, &resp)
	return resp, err
}

func (a *fakeAgent) forwardClosed(r api.ForwardClosedRequest) error {
	return api.Call(a.t.Context(), a.nc, subjects.AgentAPI(a.id, api.VerbForwardClosed), r, nil)
}

const ownPortDoc = `schemaVersion: '1.0'
description: Reach the metrics endpoint
sessionType: Port
parameters:
  portNumber:
    type: String
    default: '9100'
properties:
  portNumber: '{{ portNumber }}'
  type: LocalPortForwarding
`

func TestStartPortSessions(t *testing.T) {
	s := brokertest.NewServer(t)
	agent := newFakeAgent(t, s, "web-1")
	agent.keepAlive()
	if err := s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Metrics-Port", Content: ownPortDoc}, nil); err != nil {
		t.Fatal(err)
	}
	start := func(req api.StartSessionRequest) (api.Session, api.AgentStart, error) {
		t.Helper()
		var resp api.StartSessionResponse
		if err := s.Call(s.Admin, "admin", api.VerbStartSession, req, &resp); err != nil {
			return api.Session{}, api.AgentStart{}, err
		}
		st := agent.lastStart()
		if st.SessionID != resp.Session.ID {
			t.Fatalf("agent started %s, response is %s", st.SessionID, resp.Session.ID)
		}
		if resp.Subjects.Rin != "" || st.Subjects.Rin != "" {
			t.Errorf("port session records input: %+v", resp.Subjects)
		}
		return resp.Session, st, nil
	}

	t.Run("forwards", func(t *testing.T) {
		se, st, err := start(api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{
			{Port: 80}, {Host: "LocalHost", Port: 8080}, {Host: "DB-1.internal", Port: 5432},
			{Host: "::ffff:10.0.0.7", Port: 6379}, {UnixSocket: "/run/postgresql/.s.PGSQL.5432"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := []api.Forward{{Port: 80}, {Port: 8080}, {Host: "db-1.internal", Port: 5432}, {Host: "10.0.0.7", Port: 6379}, {UnixSocket: "/run/postgresql/.s.PGSQL.5432"}}
		if se.SessionType != api.SessionTypePort || se.Document != api.DocPortForwarding || !slices.Equal(se.Forwards, want) || se.Interactive || se.State != api.StateConnected {
			t.Errorf("session = %+v", se)
		}
		if !slices.Equal(st.Forwards, want) || st.Command != nil || st.Interactive || st.Term != "" || st.RunAs != "" || st.RecordInput {
			t.Errorf("agent start = %+v", st)
		}
		// The preferences' limits still apply (the built-in preferences: 20 minutes idle).
		if st.IdleTimeout == 0 || st.IdleTimeout != se.IdleTimeout || st.MaxDuration != se.MaxDuration {
			t.Errorf("limits: agent %v/%v, session %v/%v", st.IdleTimeout, st.MaxDuration, se.IdleTimeout, se.MaxDuration)
		}
		// The decision saw the destinations.
		waitAudit(t, s, api.VerbStartSession, func(r api.AuditRecord, in map[string]any) bool {
			fs, _ := in["forwards"].([]any)
			return r.Allow && len(fs) == 5 && strings.Contains(string(r.Input), `"host":"db-1.internal","port":5432,"unix_socket":""`)
		})
	})

	t.Run("documents", func(t *testing.T) {
		for _, tc := range []struct {
			doc    string
			params map[string][]string
			want   api.Forward
		}{
			{api.DocPortForwarding, nil, api.Forward{Port: 80}},
			{api.DocPortForwarding, map[string][]string{"portNumber": {"5432"}, "localPortNumber": {"0"}}, api.Forward{Port: 5432}},
			{api.DocPortForwardingRemoteHost, map[string][]string{"host": {"grafana.internal"}, "portNumber": {"3000"}}, api.Forward{Host: "grafana.internal", Port: 3000}},
			{api.DocSSH, nil, api.Forward{Port: 22}},
			{"Metrics-Port", nil, api.Forward{Port: 9100}},
		} {
			se, st, err := start(api.StartSessionRequest{Target: "web-1", Document: tc.doc, Parameters: tc.params})
			if err != nil {
				t.Errorf("%s %v: %v", tc.doc, tc.params, err)
				continue
			}
			if se.Document != tc.doc || se.SessionType != api.SessionTypePort || !slices.Equal(se.Forwards, []api.Forward{tc.want}) || !slices.Equal(st.Forwards, se.Forwards) {
				t.Errorf("%s %v: session %+v, agent %+v", tc.doc, tc.params, se, st.Forwards)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		before := len(agent.starts)
		many := make([]api.Forward, api.MaxForwards+1)
		for i := range many {
			many[i] = api.Forward{Port: 1000 + i}
		}
		for _, tc := range []struct {
			req  api.StartSessionRequest
			want string
		}{
			{api.StartSessionRequest{Target: "web-1", Document: api.DocPortForwarding, Forwards: []api.Forward{{Port: 80}}}, "not both"},
			{api.StartSessionRequest{Target: "web-1", Document: api.DocPreferences, Interactive: true, Forwards: []api.Forward{{Port: 80}}}, "not both"},
			{api.StartSessionRequest{Target: "web-1", Command: []string{"id"}, Forwards: []api.Forward{{Port: 80}}}, "no command"},
			{api.StartSessionRequest{Target: "web-1", Document: api.DocPortForwarding, Command: []string{"id"}}, "Port document"},
			{api.StartSessionRequest{Target: "web-1", Document: api.DocPortForwarding, Parameters: map[string][]string{"portNumber": {"0"}}}, "portNumber"},
			{api.StartSessionRequest{Target: "web-1", Forwards: many}, "the limit is 32"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{}}}, "forwards[0]: port 0"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Port: 80}, {Port: 65536}}}, "forwards[1]: port 65536"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Port: 80, UnixSocket: "/run/x.sock"}}}, "takes no host or port"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Host: "h", UnixSocket: "/run/x.sock"}}}, "takes no host or port"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{UnixSocket: "run/x.sock"}}}, "not absolute"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{UnixSocket: "/run/../etc/x.sock"}}}, "not clean"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{UnixSocket: "/" + strings.Repeat("s", 108)}}}, "the limit is 108"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{UnixSocket: "/run/x\x00.sock"}}}, "NUL"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Host: "a..b", Port: 80}}}, "not a host name"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Host: "fe80::1%eth0", Port: 80}}}, "not a host name"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Host: "2852039166", Port: 80}}}, "last label is a number"},
			{api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Host: "0251.0376.0251.0376", Port: 80}}}, "last label is a number"},
		} {
			if _, _, err := start(tc.req); !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("start %+v: %v, want a bad request about %q", tc.req, err, tc.want)
			}
		}
		if len(agent.starts) != before {
			t.Errorf("a refused start reached the agent")
		}
	})

	t.Run("restricted", func(t *testing.T) {
		for _, f := range []api.Forward{
			{Host: "169.254.169.254", Port: 80}, {Host: "::ffff:169.254.169.254", Port: 80}, {Host: "fd00:ec2::254", Port: 80},
			{Host: "metadata.google.internal", Port: 80}, {Port: 2375}, {Host: "localhost", Port: 10250},
			{UnixSocket: "/var/run/docker.sock"},
		} {
			// Admins too: a restricted destination takes an explicit exception.
			_, _, err := start(api.StartSessionRequest{Target: "web-1", Forwards: []api.Forward{{Port: 80}, f}})
			var ae *api.Error
			if !api.IsCode(err, api.CodeAccessDenied) || !asError(err, &ae) || len(ae.Reasons) != 1 || !strings.Contains(ae.Reasons[0], "unless a policy exception allows it") {
				t.Errorf("start to %+v: %v, want a denial naming the restriction", f, err)
			}
		}
		waitAudit(t, s, api.VerbStartSession, func(r api.AuditRecord, in map[string]any) bool {
			return !r.Allow && strings.Contains(string(r.Input), `"host":"169.254.169.254"`)
		})
	})
}

// shippedWithData is the shipped bundle with data.tether[key] set to v.
func shippedWithData(t *testing.T, key string, v any) []api.PolicyFile {
	t.Helper()
	return shippedEdited(t, func(data map[string]any) { data[key] = v })
}

func asError(err error, target **api.Error) bool {
	e, ok := err.(*api.Error)
	if ok {
		*target = e
	}
	return ok
}

// portWorld is a broker, an agent web-1, and alice, who may use it (her attribute env=test
// matches its tag), with a port session open.
type portWorld struct {
	s     *brokertest.Server
	agent *fakeAgent
	se    api.Session
}

func newPortWorld(t *testing.T, forwards ...api.Forward) portWorld {
	s := brokertest.NewServer(t)
	agent := newFakeAgent(t, s, "web-1")
	agent.keepAlive()
	seed := s.AddUser("alice", []string{"dev", "fwd-testers"}, map[string]string{"env": "test"})
	alice := s.ConnectUser("alice", seed)
	var resp api.StartSessionResponse
	if err := s.Call(alice, "alice", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Forwards: forwards}, &resp); err != nil {
		t.Fatalf("alice starts a port session: %v", err)
	}
	return portWorld{s: s, agent: agent, se: resp.Session}
}

func TestForwardOpen(t *testing.T) {
	w := newPortWorld(t, api.Forward{Port: 80}, api.Forward{Host: "innocent.example.com", Port: 80}, api.Forward{UnixSocket: "/tmp/app.sock"})
	s, agent, sid := w.s, w.agent, w.se.ID

	open := func(conn uint32, dest int, addr string) (api.ForwardOpenResponse, error) {
		return agent.forwardOpen(api.ForwardOpenRequest{SessionID: sid, ConnID: conn, Dest: dest, Address: addr, Peer: "127.0.0.1:50000"})
	}
	// Allowed: the node itself, a remote host, a unix socket.
	for i, tc := range []struct {
		dest int
		addr string
	}{{0, "127.0.0.1:80"}, {1, "203.0.113.9:80"}, {2, "/tmp/app.sock"}, {2, ""}} {
		resp, err := open(uint32(i+1), tc.dest, tc.addr)
		if err != nil || !resp.Allowed || len(resp.Reasons) != 0 {
			t.Errorf("open dest %d at %q: %+v, %v; want allowed", tc.dest, tc.addr, resp, err)
		}
	}
	rec := waitAudit(t, s, api.ActionForwardConnection, func(r api.AuditRecord, in map[string]any) bool {
		f, _ := in["forward"].(map[string]any)
		return r.Allow && f["ip"] == "203.0.113.9" && f["host"] == "innocent.example.com"
	})
	if rec.Principal != "alice" || !strings.Contains(string(rec.Input), `"groups":["dev","fwd-testers"]`) || !strings.Contains(string(rec.Input), `"owner":"alice"`) {
		t.Errorf("the decision was not made for the session's owner: %+v %s", rec, rec.Input)
	}

	// A DNS name resolving to a metadata address is refused when the node resolves it.
	for i, addr := range []string{"169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[fd00:ec2::254]:80"} {
		resp, err := open(uint32(10+i), 1, addr)
		if err != nil || resp.Allowed || len(resp.Reasons) != 1 || !strings.Contains(resp.Reasons[0], "cloud metadata") {
			t.Errorf("open to %s: %+v, %v; want a policy refusal", addr, resp, err)
		}
	}
	waitAudit(t, s, api.ActionForwardConnection, func(r api.AuditRecord, in map[string]any) bool {
		f, _ := in["forward"].(map[string]any)
		return !r.Allow && f["ip"] == "169.254.169.254" && f["address"] == "[::ffff:169.254.169.254]:80" && len(r.Reasons) == 1
	})

	// Malformed requests are errors, not decisions.
	for _, tc := range []struct {
		r    api.ForwardOpenRequest
		want string
	}{
		{api.ForwardOpenRequest{SessionID: sid, Dest: 3, Address: "127.0.0.1:80"}, "dest 3"},
		{api.ForwardOpenRequest{SessionID: sid, Dest: -1, Address: "127.0.0.1:80"}, "dest -1"},
		{api.ForwardOpenRequest{SessionID: sid, Dest: 0, Address: "127.0.0.1:81"}, "port 80"},
		{api.ForwardOpenRequest{SessionID: sid, Dest: 0, Address: "localhost:80"}, "not ip:port"},
		{api.ForwardOpenRequest{SessionID: sid, Dest: 2, Address: "tmp/app.sock"}, "not absolute"},
		{api.ForwardOpenRequest{SessionID: sid, Dest: 0, Address: "127.0.0.1:80", Peer: "a\nb"}, "control characters"},
		{api.ForwardOpenRequest{SessionID: sid, Dest: 0, Address: "127.0.0.1:80", Peer: strings.Repeat("p", 300)}, "the limit is 256"},
		{api.ForwardOpenRequest{SessionID: "alice-00000000000000000000", Dest: 0, Address: "127.0.0.1:80"}, "no session"},
	} {
		if _, err := agent.forwardOpen(tc.r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ForwardOpen %+v: %v, want an error about %q", tc.r, err, tc.want)
		}
	}

	// A client opening many connections at once gets every one decided, none refused
	// as busy (and the agent's heartbeats keep their own slots).
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			resp, err := open(uint32(1000+i), 0, "127.0.0.1:80")
			if err == nil && !resp.Allowed {
				err = fmt.Errorf("refused: %v", resp.Reasons)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Go(func() {
		err := api.Call(t.Context(), agent.nc, subjects.AgentAPI(agent.id, api.VerbHeartbeat), api.HeartbeatRequest{RunID: agent.run}, nil)
		if err != nil {
			errs <- fmt.Errorf("heartbeat: %w", err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("one of 100 connections opened at once: %v", err)
	}

	// Each connection is decided by the policy in force: a deny pushed since refuses it.
	deny := []any{map[string]any{"sid": "Freeze", "groups": []any{"fwd-testers"}, "reason": "forwarding testers are frozen"}}
	if err := s.Call(s.Admin, "admin", api.VerbPushPolicy, api.PushPolicyRequest{Files: shippedWithData(t, "deny_statements", deny)}, nil); err != nil {
		t.Fatal(err)
	}
	if resp, err := open(30, 0, "127.0.0.1:80"); err != nil || resp.Allowed || !slices.Equal(resp.Reasons, []string{"forwarding testers are frozen"}) {
		t.Errorf("open under a deny statement: %+v, %v", resp, err)
	}

	// Not a port session; not Connected.
	var shell api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"true"}}, &shell); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.forwardOpen(api.ForwardOpenRequest{SessionID: shell.Session.ID, Address: "127.0.0.1:80"}); !api.IsCode(err, api.CodeConflict) {
		t.Errorf("ForwardOpen on a command session: %v, want a conflict", err)
	}
	if err := s.Call(s.Admin, "admin", api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: sid}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := open(31, 0, "127.0.0.1:80"); !api.IsCode(err, api.CodeConflict) || !strings.Contains(err.Error(), "not Connected") {
		t.Errorf("ForwardOpen on a terminating session: %v, want a conflict", err)
	}
}

// TestForwardOpenOnTheNodesOwnAddress: an admin port reached through an address the node
// reports as its own (kubelet listens on every interface) is the node's admin port, refused
// as on loopback; the same port elsewhere is not.
func TestForwardOpenOnTheNodesOwnAddress(t *testing.T) {
	w := newPortWorld(t, api.Forward{Host: "10.1.2.3", Port: 10250}, api.Forward{UnixSocket: "/tmp/app.sock"})
	open := func(conn uint32, dest int, addr string, onNode bool) (api.ForwardOpenResponse, error) {
		return w.agent.forwardOpen(api.ForwardOpenRequest{SessionID: w.se.ID, ConnID: conn, Dest: dest, Address: addr, OnNode: onNode})
	}
	if resp, err := open(1, 0, "10.1.2.3:10250", false); err != nil || !resp.Allowed {
		t.Errorf("kubelet's port on another host: %+v, %v; want allowed", resp, err)
	}
	resp, err := open(2, 0, "10.1.2.3:10250", true)
	if err != nil || resp.Allowed || len(resp.Reasons) != 1 || !strings.Contains(resp.Reasons[0], "port 10250 on the node itself is an administrative port") {
		t.Errorf("kubelet's port on the node's own address: %+v, %v; want refused as the node's admin port", resp, err)
	}
	waitAudit(t, w.s, api.ActionForwardConnection, func(r api.AuditRecord, in map[string]any) bool {
		f, _ := in["forward"].(map[string]any)
		return !r.Allow && f["on_node"] == true && f["address"] == "10.1.2.3:10250"
	})
	if _, err := open(3, 1, "/tmp/app.sock", true); err == nil || !strings.Contains(err.Error(), "on_node is said of a TCP address") {
		t.Errorf("on_node for a unix socket: %v, want an error saying so", err)
	}
}

func TestForwardClosed(t *testing.T) {
	w := newPortWorld(t, api.Forward{Port: 5432}, api.Forward{UnixSocket: "/tmp/app.sock"})
	s, agent, sid := w.s, w.agent, w.se.ID
	next := eventLog(t, s)

	opened := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	report := api.ForwardClosedRequest{
		SessionID: sid, ConnID: 7, Dest: 0, Address: "127.0.0.1:5432", Peer: "127.0.0.1:53122",
		BytesIn: 1234, BytesOut: 567890, OpenedAt: opened, ClosedAt: opened.Add(90 * time.Second),
		Reason: api.FwdClientClose,
	}
	// Reported twice, as an agent retrying after a lost answer would: stored once.
	for range 2 {
		if err := agent.forwardClosed(report); err != nil {
			t.Fatalf("ForwardClosed: %v", err)
		}
	}
	d := next(events.Forward, sid)
	want := events.ForwardConn{
		SessionID: sid, Owner: "alice", Target: "web-1", Document: api.DocPortForwarding, ConnID: 7, Dest: 0,
		Port: 5432, Address: "127.0.0.1:5432", Peer: "127.0.0.1:53122", BytesIn: 1234, BytesOut: 567890,
		OpenedAt: opened, ClosedAt: opened.Add(90 * time.Second), Duration: api.Duration(90 * time.Second), Reason: api.FwdClientClose,
	}
	if d.Forward == nil || *d.Forward != want || d.Session.ID != sid || d.Actor != "web-1" {
		t.Fatalf("forward event = %+v %+v\nwant %+v", d, d.Forward, want)
	}
	rec := waitAudit(t, s, api.VerbForwardClosed, func(r api.AuditRecord, in map[string]any) bool { return true })
	if rec.Principal != "alice" || !strings.Contains(string(rec.Input), `"bytes_out":567890`) || !strings.Contains(string(rec.Input), `"agent":"web-1"`) {
		t.Errorf("audit record = %+v %s", rec, rec.Input)
	}

	// A refused connection (never opened), reported after the session ended.
	if err := s.Call(s.Admin, "admin", api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: sid}, nil); err != nil {
		t.Fatal(err)
	}
	refused := api.ForwardClosedRequest{SessionID: sid, ConnID: 8, Dest: 1, ClosedAt: opened, Reason: api.FwdRefused, Detail: "connect: no such file or directory"}
	if err := agent.forwardClosed(refused); err != nil {
		t.Fatalf("ForwardClosed after the session's end: %v", err)
	}
	if d := next(events.Forward, sid); d.Forward.ConnID != 8 || d.Forward.UnixSocket != "/tmp/app.sock" || !d.Forward.OpenedAt.IsZero() || d.Forward.Duration != 0 {
		t.Errorf("refused connection's event = %+v", d.Forward)
	}
	brokertest.WaitFor(t, 10*time.Second, "two ForwardClosed audit records", func() bool {
		return len(auditOf(t, s, api.VerbForwardClosed)) == 2
	})
	if n := streamCount(t, s, jsdef.StreamEvents, subjects.SessionEvent(events.Forward)); n != 2 {
		t.Errorf("%d forward events, want 2", n)
	}

	// Malformed reports are refused, and leave no record.
	for _, tc := range []struct {
		mod  func(r *api.ForwardClosedRequest)
		want string
	}{
		{func(r *api.ForwardClosedRequest) { r.Reason = "eaten_by_grue" }, "reason"},
		{func(r *api.ForwardClosedRequest) { r.Reason = "" }, "reason"},
		{func(r *api.ForwardClosedRequest) { r.ClosedAt = r.OpenedAt.Add(-time.Second) }, "before opened_at"},
		{func(r *api.ForwardClosedRequest) { r.ClosedAt = time.Time{} }, "closed_at is required"},
		{func(r *api.ForwardClosedRequest) { r.BytesOut = 1 << 62 }, "not a count"},
		{func(r *api.ForwardClosedRequest) { r.ClosedAt = r.OpenedAt.Add(400 * 24 * time.Hour) }, "longer than any session"},
		{func(r *api.ForwardClosedRequest) { r.OpenedAt = time.Time{} }, "never opened"},
		{func(r *api.ForwardClosedRequest) { r.Dest = 2 }, "dest 2"},
		{func(r *api.ForwardClosedRequest) { r.Address = "10.0.0.1:1" }, "port 5432"},
		{func(r *api.ForwardClosedRequest) { r.Detail = strings.Repeat("d", 2000) }, "the limit is 1024"},
	} {
		r := report
		r.ConnID = 99
		tc.mod(&r)
		if err := agent.forwardClosed(r); !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ForwardClosed %+v: %v, want a bad request about %q", r, err, tc.want)
		}
	}
	if n := len(auditOf(t, s, api.VerbForwardClosed)); n != 2 {
		t.Errorf("%d ForwardClosed audit records after the malformed reports, want 2", n)
	}
}
