package attacks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Whoever holds a node's key (an attacker on the node, a copied state directory)
// connects a second time while the real agent is connected, and registers as a new
// agent process listing no sessions, to have the broker end the node's sessions as
// agent_restarted: refused, with a message that says why; so are its heartbeats; the
// session runs on and its frames still reach the record. The registered run is named by
// its first digits only, not handed over. The key reaches its own instance only: the
// other node's session is never touched. Once the real agent's connection is gone (the
// process was killed), the next process replaces it, and the session it does not run
// ends as after any agent restart.
func TestSecondAgentKeyEndsNoSessions(t *testing.T) {
	w := newWorld(t)
	x := w.agent(t, "web-1")
	y := w.agent(t, "web-2")
	x.keepAlive(100 * time.Millisecond)
	y.keepAlive(100 * time.Millisecond)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	sx := w.startSession(t, alice.Conn, "alice", x.id)
	sy := w.startSession(t, alice.Conn, "alice", y.id)
	sessionOf := func(id string) api.Session {
		t.Helper()
		var got api.GetSessionResponse
		if err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &got); err != nil {
			t.Fatal(err)
		}
		return got.Session
	}

	v := &brokertest.Violations{}
	dup, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, x.seed),
		nats.CustomInboxPrefix(subjects.AgentInbox(x.id)), nats.ErrorHandler(v.Handler))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dup.Close)
	run := brokertest.NewRunID()
	register := func(run string) error {
		return api.Call(t.Context(), dup, subjects.AgentAPI(x.id, api.VerbRegister),
			api.RegisterRequest{RunID: run, Hostname: "evil", OS: "linux", Arch: "amd64", AgentVersion: "test"}, nil)
	}

	err = register(run)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeConflict {
		t.Fatalf("a second process registering with x's key: %v; want %s", err, api.CodeConflict)
	}
	for _, want := range []string{"instance " + x.id + " is already connected", "agent run " + x.run[:8] + "…",
		"a second agent with this identity is refused", "stop the other one or enroll this one as its own instance"} {
		if !strings.Contains(ae.Message, want) {
			t.Errorf("refusal %q does not say %q", ae.Message, want)
		}
	}
	if strings.Contains(ae.Message, x.run) {
		t.Errorf("refusal %q hands over the registered run id", ae.Message)
	}
	err = api.Call(t.Context(), dup, subjects.AgentAPI(x.id, api.VerbHeartbeat), api.HeartbeatRequest{RunID: run}, nil)
	if !api.IsCode(err, api.CodeConflict) {
		t.Errorf("the second process's heartbeat: %v; want %s", err, api.CodeConflict)
	}
	// Malformed run ids are refused as such, and change nothing either.
	for _, bad := range []string{"", strings.Repeat("A", api.RunIDLen), run[:api.RunIDLen-1], run + "0"} {
		if err := register(bad); !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "run_id") {
			t.Errorf("Register with run id %q: %v; want %s naming run_id", bad, err, api.CodeBadRequest)
		}
	}
	// The key speaks for its own instance only.
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	err = api.Call(ctx, dup, subjects.AgentAPI(y.id, api.VerbRegister), api.RegisterRequest{RunID: run}, nil)
	cancel()
	if err == nil {
		t.Errorf("x's key registered as %s", y.id)
	}
	v.Has(t, subjects.AgentAPI(y.id, api.VerbRegister))

	for _, se := range []api.Session{sessionOf(sx.Session.ID), sessionOf(sy.Session.ID)} {
		if se.State != api.StateConnected {
			t.Fatalf("session %s on %s is %s (%s) after the second process; want %s", se.ID, se.Target, se.State, se.Reason, api.StateConnected)
		}
	}
	if _, err := x.publishFrame(t.Context(), sx.Subjects.Out, 1, []byte("still here"), nil); err != nil {
		t.Errorf("the real agent's frame after the refusal: %v", err)
	}
	var insts api.DescribeInstancesResponse
	if err := w.Call(w.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{x.id}}, &insts); err != nil {
		t.Fatal(err)
	}
	if len(insts.Instances) != 1 || insts.Instances[0].Hostname != "fake" {
		t.Errorf("x's record after the refused Register: %+v; want hostname %q kept", insts.Instances, "fake")
	}
	w.logged(t, "refused a second agent process", x.id)

	// The real agent is killed: its connection closes. As soon as the server has dropped
	// it, well within the agent-lost delay (its last heartbeat is fresh), the next
	// process gets in.
	x.Close()
	acc := accounts.AccountName(accounts.KindAgent, x.id)
	brokertest.WaitFor(t, 2*time.Second, "the server to drop the real agent", func() bool { return floodAccountConns(t, w, acc) == 1 })
	if err := register(run); err != nil {
		t.Fatalf("the next process, once the real agent's connection closed: %v", err)
	}
	if got := sessionOf(sx.Session.ID); !got.Ended() || got.Reason != api.ReasonAgentRestarted {
		t.Errorf("x's session after the new process registered without it: %s (%s); want ended (%s)",
			got.State, got.Reason, api.ReasonAgentRestarted)
	}
	if got := sessionOf(sy.Session.ID); got.State != api.StateConnected {
		t.Errorf("y's session is %s (%s); want %s", got.State, got.Reason, api.StateConnected)
	}
}
