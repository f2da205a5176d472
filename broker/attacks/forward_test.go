package attacks_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// forwardCounts are the records port forwarding leaves: decisions about connections,
// connection reports in the audit stream, and forward events.
type forwardCounts struct{ decisions, reports, events uint64 }

func (w *world) forwardCounts(t *testing.T) forwardCounts {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	count := func(stream, subject string) uint64 {
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
	return forwardCounts{
		decisions: count(jsdef.StreamAudit, subjects.Audit(api.ActionForwardConnection)),
		reports:   count(jsdef.StreamAudit, subjects.Audit(api.VerbForwardClosed)),
		events:    count(jsdef.StreamEvents, subjects.SessionEvent(events.Forward)),
	}
}

// A session's connections are asked about and reported by the agent the session runs on,
// and by no one else: another agent, on its own subject or on the victim's, and a user,
// the session's owner included, get no decision and leave no record.
func TestForwardVerbsOnlyForTheSessionsAgent(t *testing.T) {
	w := newWorld(t)
	x := w.agent(t, "web-1")
	y := w.agent(t, "web-2")
	x.keepAlive(100 * time.Millisecond)
	y.keepAlive(100 * time.Millisecond)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	var sy, sx api.StartSessionResponse
	for _, s := range []struct {
		target string
		out    *api.StartSessionResponse
	}{{y.id, &sy}, {x.id, &sx}} {
		if err := w.Call(alice.Conn, "alice", api.VerbStartSession, api.StartSessionRequest{Target: s.target, Forwards: []api.Forward{{Port: 5432}}}, s.out); err != nil {
			t.Fatalf("alice's port session on %s: %v", s.target, err)
		}
	}
	// on_node, the agent's word that the address is its own, gives no one a say in another
	// agent's session either.
	open := api.ForwardOpenRequest{SessionID: sy.Session.ID, ConnID: 1, Dest: 0, Address: "127.0.0.1:5432", OnNode: true, Peer: "127.0.0.1:1"}
	closed := api.ForwardClosedRequest{SessionID: sy.Session.ID, ConnID: 1, Dest: 0, Address: "127.0.0.1:5432",
		BytesIn: 10, BytesOut: 10, OpenedAt: time.Now().Add(-time.Second), ClosedAt: time.Now(), Reason: api.FwdClientClose}
	before, counts := w.snapshot(t), w.forwardCounts(t)

	// x, on its own subject, about y's session.
	if err := api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbForwardOpen), open, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Errorf("x asking to open a connection of y's session: %v; want AccessDenied", err)
	}
	if err := api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbForwardClosed), closed, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Errorf("x reporting a connection of y's session: %v; want AccessDenied", err)
	}
	// x naming y's destination through its own session's index: still its own session only.
	own := open
	own.SessionID, own.Dest = sx.Session.ID, 1
	if err := api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbForwardOpen), own, nil); !api.IsCode(err, api.CodeBadRequest) {
		t.Errorf("x asking for a destination its session does not have: %v; want BadRequest", err)
	}
	// x on y's subjects, and alice (the owner) on y's: their permissions stop them before
	// the control plane.
	for _, c := range []*conn{x.conn, alice} {
		for _, verb := range []string{api.VerbForwardOpen, api.VerbForwardClosed} {
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			err := api.Call(ctx, c.Conn, subjects.AgentAPI(y.id, verb), open, nil)
			cancel()
			if err == nil {
				t.Errorf("%s's %s on %s's subject was answered", c.name, verb, y.id)
			}
			c.v.Has(t, subjects.AgentAPI(y.id, verb))
		}
	}
	// Alice on her own API prefix: there is no such user verb.
	for _, verb := range []string{api.VerbForwardOpen, api.VerbForwardClosed, api.ActionForwardConnection} {
		if err := w.Call(alice.Conn, "alice", verb, open, nil); !api.IsCode(err, api.CodeBadRequest) {
			t.Errorf("alice calling %s: %v; want BadRequest (no such verb)", verb, err)
		}
	}
	w.unchanged(t, before)
	if got := w.forwardCounts(t); got != counts {
		t.Errorf("records after the attempts: %+v, before %+v", got, counts)
	}

	// The session's own agent is answered, and its report recorded: the refusals above
	// were about who asked.
	var resp api.ForwardOpenResponse
	if err := api.Call(t.Context(), y.Conn, subjects.AgentAPI(y.id, api.VerbForwardOpen), open, &resp); err != nil || !resp.Allowed {
		t.Fatalf("y asking to open its own session's connection: %+v, %v", resp, err)
	}
	if err := api.Call(t.Context(), y.Conn, subjects.AgentAPI(y.id, api.VerbForwardClosed), closed, nil); err != nil {
		t.Fatalf("y reporting its own session's connection: %v", err)
	}
	brokertest.WaitFor(t, 10*time.Second, "y's decision and report recorded", func() bool {
		got := w.forwardCounts(t)
		return got.decisions == counts.decisions+1 && got.reports == counts.reports+1 && got.events == counts.events+1
	})
}
