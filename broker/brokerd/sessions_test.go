package brokerd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// fakeAgent is an enrolled agent connection that accepts or refuses sessions as told; it
// stands in for tether-agent where a test is about the control plane alone.
type fakeAgent struct {
	t      *testing.T
	s      *brokertest.Server
	id     string
	run    string // its run id
	nc     *nats.Conn
	mu     sync.Mutex
	starts []api.AgentStart
	terms  []api.AgentTerminate
	refuse string
}

func newFakeAgent(t *testing.T, s *brokertest.Server, name string) *fakeAgent {
	seed, id := enrollRaw(t, s, name)
	nc, err := nats.Connect(s.URL(), append(brokertest.KeyOptions(t, seed), nats.CustomInboxPrefix(subjects.AgentInbox(id)))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	a := &fakeAgent{t: t, s: s, id: id, run: brokertest.NewRunID(), nc: nc}
	if _, err := nc.Subscribe(subjects.AgentControl(id), a.handle); err != nil {
		t.Fatal(err)
	}
	a.heartbeat(true)
	return a
}

func (a *fakeAgent) handle(m *nats.Msg) {
	var c api.AgentControl
	if err := json.Unmarshal(m.Data, &c); err != nil {
		a.t.Errorf("agent control: %v", err)
		return
	}
	a.mu.Lock()
	reply := api.AgentReply{OK: true}
	if c.Start != nil {
		a.starts = append(a.starts, *c.Start)
		if a.refuse != "" {
			reply = api.AgentReply{Error: a.refuse}
		}
	}
	if c.Terminate != nil {
		a.terms = append(a.terms, *c.Terminate)
	}
	a.mu.Unlock()
	b, _ := json.Marshal(reply)
	_ = m.Respond(b)
}

func (a *fakeAgent) heartbeat(register bool) {
	a.t.Helper()
	verb, req := api.VerbHeartbeat, any(api.HeartbeatRequest{RunID: a.run})
	if register {
		verb, req = api.VerbRegister, api.RegisterRequest{RunID: a.run, Hostname: "fake", OS: "linux", Arch: "amd64", AgentVersion: "test"}
	}
	if err := api.Call(a.t.Context(), a.nc, subjects.AgentAPI(a.id, verb), req, nil); err != nil {
		a.t.Fatalf("%s: %v", verb, err)
	}
}

func (a *fakeAgent) ended(sid string, code int) {
	a.t.Helper()
	err := api.Call(a.t.Context(), a.nc, subjects.AgentAPI(a.id, api.VerbSessionEnded),
		api.SessionEndedRequest{SessionID: sid, ExitCode: code, Reason: api.ReasonExit, OutFrames: 1}, nil)
	if err != nil {
		a.t.Fatalf("SessionEnded: %v", err)
	}
}

// eventLog subscribes to session events as the admin.
func eventLog(t *testing.T, s *brokertest.Server) func(typ, sid string) events.Data {
	ch := make(chan *nats.Msg, 100)
	if _, err := s.Admin.ChanSubscribe(subjects.SessionEvents, ch); err != nil {
		t.Fatal(err)
	}
	s.Admin.Flush()
	return func(typ, sid string) events.Data {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case m := <-ch:
				var ev struct {
					Type        string      `json:"type"`
					Subject     string      `json:"subject"`
					SpecVersion string      `json:"specversion"`
					Data        events.Data `json:"data"`
				}
				if err := json.Unmarshal(m.Data, &ev); err != nil {
					t.Fatalf("event is not JSON: %v", err)
				}
				if ev.SpecVersion != "1.0" || m.Subject != subjects.SessionEvent(strings.TrimPrefix(ev.Type, events.TypePrefix)) {
					t.Fatalf("bad event envelope on %s: %s", m.Subject, m.Data)
				}
				if ev.Type == events.TypePrefix+typ && (sid == "" || ev.Subject == sid) {
					return ev.Data
				}
			case <-timeout:
				t.Fatalf("no %s event for %q", typ, sid)
			}
		}
	}
}

func TestSessionLifecycle(t *testing.T) {
	s := brokertest.NewServer(t)
	next := eventLog(t, s)
	agent := newFakeAgent(t, s, "web-1") // tagged env=test
	aliceSeed := s.AddUser("alice", []string{"oncall"}, map[string]string{"env": "test"})
	bobSeed := s.AddUser("bob", nil, map[string]string{"env": "prod"})
	alice, bob := s.ConnectUser("alice", aliceSeed), s.ConnectUser("bob", bobSeed)

	// Bob's attributes do not match the target's tags: denied, with a reason, and an event.
	err := s.Call(bob, "bob", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Interactive: true}, nil)
	if !api.IsCode(err, api.CodeAccessDenied) || !strings.Contains(err.Error(), "web-1") {
		t.Fatalf("bob's start: %v", err)
	}
	if d := next(events.Denied, ""); d.Actor != "bob" || len(d.Reasons) == 0 {
		t.Fatalf("denied event = %+v", d)
	}

	var start api.StartSessionResponse
	if err := s.Call(alice, "alice", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"uname", "-a"}}, &start); err != nil {
		t.Fatal(err)
	}
	sid := start.Session.ID
	if !strings.HasPrefix(sid, "alice-") || start.Session.State != api.StateConnected || start.Subjects.Out != subjects.ForSession("web-1", "alice", sid).Out {
		t.Fatalf("start = %+v", start)
	}
	if d := next(events.Started, sid); d.Session.Owner != "alice" {
		t.Fatalf("started event = %+v", d)
	}
	var active api.DescribeSessionsResponse
	if err := s.Call(alice, "alice", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &active); err != nil || len(active.Sessions) != 1 {
		t.Fatalf("active = %+v, %v", active, err)
	}
	// Bob may neither see nor end alice's session.
	if err := s.Call(bob, "bob", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &active); err != nil || len(active.Sessions) != 0 {
		t.Fatalf("bob sees %+v, %v", active, err)
	}
	if err := s.Call(bob, "bob", api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: sid}, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("bob terminating alice's session: %v", err)
	}
	agent.ended(sid, 0)
	if d := next(events.Terminated, sid); d.Session.Reason != api.ReasonExit || d.Session.ExitCode == nil || *d.Session.ExitCode != 0 {
		t.Fatalf("terminated event = %+v", d.Session)
	}
	var hist api.DescribeSessionsResponse
	if err := s.Call(alice, "alice", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "History"}, &hist); err != nil || len(hist.Sessions) != 1 || hist.Sessions[0].State != api.StateTerminated {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// An admin terminates a session; the agent is told, and its report ends it.
	if err := s.Call(alice, "alice", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	if err := s.Call(s.Admin, "admin", api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: start.Session.ID}, nil); err != nil {
		t.Fatal(err)
	}
	agent.mu.Lock()
	if len(agent.terms) != 1 || agent.terms[0].SessionID != start.Session.ID {
		t.Fatalf("agent got terminations %+v", agent.terms)
	}
	agent.mu.Unlock()
	agent.ended(start.Session.ID, 129)
	if d := next(events.Terminated, start.Session.ID); d.Session.Reason != api.ReasonTerminated || d.Session.TerminatedBy != "admin" {
		t.Fatalf("terminated event = %+v", d.Session)
	}

	// An agent that refuses: the session fails with the agent's reason, and an event says so.
	agent.mu.Lock()
	agent.refuse = "exec: \"nope\": executable file not found in $PATH"
	agent.mu.Unlock()
	err = s.Call(alice, "alice", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"nope"}}, nil)
	if !api.IsCode(err, api.CodeUnavailable) || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("refused start: %v", err)
	}
	if d := next(events.Failed, ""); d.Session.Reason != api.ReasonStartFailed {
		t.Fatalf("failed event = %+v", d.Session)
	}
	// An unknown target.
	if err := s.Call(alice, "alice", api.VerbStartSession, api.StartSessionRequest{Target: "nowhere", Interactive: true}, nil); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown target: %v", err)
	}

	// Every event above is retained in the events stream, for consumers that come later:
	// 1 denial, 2 starts, 2 ends, 1 failure.
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(t.Context(), jsdef.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	st, err := info.Info(t.Context(), jetstream.WithSubjectFilter(subjects.SessionEvents))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, typ := range []string{events.Denied, events.Started, events.Terminated, events.Failed} {
		counts[typ] = st.State.Subjects[subjects.SessionEvent(typ)]
	}
	if want := map[string]uint64{events.Denied: 1, events.Started: 2, events.Terminated: 2, events.Failed: 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("events stream holds %v, want %v", counts, want)
	}
}

func TestAgentLostEndsSessions(t *testing.T) {
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.AgentLostAfter = 600 * time.Millisecond })
	next := eventLog(t, s)
	agent := newFakeAgent(t, s, "web-2")
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-2", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	agent.nc.Close() // no more heartbeats
	if d := next(events.Terminated, start.Session.ID); d.Session.Reason != api.ReasonAgentLost {
		t.Fatalf("terminated event = %+v", d.Session)
	}
	var r api.DescribeInstancesResponse
	if err := s.Call(s.Admin, "admin", api.VerbDescribeInstances, nil, &r); err != nil || len(r.Instances) != 1 || r.Instances[0].PingStatus != api.PingConnectionLost {
		t.Fatalf("instances = %+v, %v", r, err)
	}
}

func TestBrokerShutdownEndsSessions(t *testing.T) {
	// The fake agent does not heartbeat: a long interval keeps it from looking lost.
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.HeartbeatInterval = 10 * time.Second })
	newFakeAgent(t, s, "web-3")
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-3", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	s2 := s.Restart()
	var got api.GetSessionResponse
	if err := s2.Call(s2.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: start.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.State != api.StateTerminated || got.Session.Reason != api.ReasonBrokerShutdown {
		t.Fatalf("after restart: %+v", got.Session)
	}
}
