package attacks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/wire/api"
)

// A compromised agent printing past its share of the transcript stream: its session ends
// (transcript_budget) whether or not the agent cooperates, it may start no new session,
// and another agent's sessions run and record as before.
func TestBudgetOneAgentCannotFillTheStream(t *testing.T) {
	const budget = 256 << 10
	w := newWorld(t, func(o *brokerd.Options) { o.Limits.AgentTranscriptBytes = budget })
	a := w.agent(t, "web-1")
	b := w.agent(t, "web-2")
	a.keepAlive(100 * time.Millisecond)
	b.keepAlive(100 * time.Millisecond)
	floodLeave(t, w, a, b)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	greedy := w.startSession(t, alice.Conn, "alice", a.id)
	bystander := w.startSession(t, alice.Conn, "alice", b.id)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// 10 frames of 32 KiB: 320 KiB, past the 256 KiB budget. The session runs until the
	// broker ends it, so all of them are stored.
	payload := []byte(strings.Repeat("x", 32<<10))
	for seq := uint64(1); seq <= 10; seq++ {
		if _, err := a.publishFrame(ctx, greedy.Subjects.Out, seq, payload, nil); err != nil {
			t.Fatalf("frame %d of the running session: %v", seq, err)
		}
	}

	// The broker ends it, although this agent never reports the end itself.
	var got api.GetSessionResponse
	brokertest.WaitFor(t, 15*time.Second, "the session past the budget to end", func() bool {
		err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: greedy.Session.ID}, &got)
		return err == nil && got.Session.Ended()
	})
	if got.Session.Reason != api.ReasonTranscriptBudget {
		t.Errorf("the session ended with reason %q; want %q", got.Session.Reason, api.ReasonTranscriptBudget)
	}
	a.mu.Lock()
	terms := a.terms
	a.mu.Unlock()
	if len(terms) != 1 || terms[0].SessionID != greedy.Session.ID || terms[0].Reason != api.ReasonTranscriptBudget {
		t.Errorf("the agent was asked to terminate %+v; want its session, for %s", terms, api.ReasonTranscriptBudget)
	}
	w.logged(t, "past its transcript budget", "target="+a.id)

	// Its session's frames are refused from now on, and it may start no new session.
	var ae *jetstream.APIError
	if _, err := a.publishFrame(ctx, greedy.Subjects.Out, 11, payload, nil); !errors.As(err, &ae) || ae.Code != 403 {
		t.Errorf("a frame of the ended session: %v; want a 403 refusal", err)
	}
	err := w.Call(alice.Conn, "alice", api.VerbStartSession, api.StartSessionRequest{Target: a.id, Command: []string{"true"}}, nil)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeUnavailable || !strings.Contains(apiErr.Message, "past its budget") {
		t.Errorf("a new session on the agent past its budget: %v; want Unavailable, past its budget", err)
	}
	if n := a.started(); n != 1 {
		t.Errorf("the agent was asked to start %d sessions; want 1 (none after the budget)", n)
	}

	// The other agent: its running session is untouched and records, and it starts more.
	if err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: bystander.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.State != api.StateConnected {
		t.Errorf("the other agent's session is %s (%s); want it still connected", got.Session.State, got.Session.Reason)
	}
	if _, err := b.publishFrame(ctx, bystander.Subjects.Out, 1, payload, nil); err != nil {
		t.Errorf("the other agent's frame: %v", err)
	}
	next := w.startSession(t, alice.Conn, "alice", b.id)
	if _, err := b.publishFrame(ctx, next.Subjects.Out, 1, []byte("still here"), nil); err != nil {
		t.Errorf("the other agent's new session's frame: %v", err)
	}
	b.mu.Lock()
	bTerms := len(b.terms)
	b.mu.Unlock()
	if bTerms != 0 {
		t.Errorf("the other agent was asked to end %d sessions", bTerms)
	}
}

// The size the ledger counts is the stream's, not one the agent writes: a frame carrying
// its own Nats-Msg-Size header counts for what it holds.
func TestBudgetCountsTheStoredSizeNotTheAgentsHeader(t *testing.T) {
	w := newWorld(t, func(o *brokerd.Options) { o.Limits.AgentTranscriptBytes = 256 << 10 })
	a := w.agent(t, "web-1")
	a.keepAlive(100 * time.Millisecond)
	floodLeave(t, w, a)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	greedy := w.startSession(t, alice.Conn, "alice", a.id)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	payload := []byte(strings.Repeat("x", 32<<10))
	for seq := uint64(1); seq <= 10; seq++ {
		if _, err := a.publishFrame(ctx, greedy.Subjects.Out, seq, payload, nats.Header{"Nats-Msg-Size": []string{"0"}}); err != nil {
			t.Fatalf("frame %d of the running session: %v", seq, err)
		}
	}
	var got api.GetSessionResponse
	brokertest.WaitFor(t, 15*time.Second, "the session past the budget to end", func() bool {
		err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: greedy.Session.ID}, &got)
		return err == nil && got.Session.Ended()
	})
	if got.Session.Reason != api.ReasonTranscriptBudget {
		t.Errorf("the session ended with reason %q; want %q", got.Session.Reason, api.ReasonTranscriptBudget)
	}
}
