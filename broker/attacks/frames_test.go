package attacks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// A compromised agent writing frames the record must not hold: with a TTL of its choosing
// on its own running session, and for sessions that do not run on it (invented, ended,
// another owner's, another agent's). Each is refused, stored nowhere, counted and logged;
// a frame of its running session is stored, and the session's owner sees exactly what the
// stream stored.
func TestFramesOnlyForSessionsRunningOnTheAgent(t *testing.T) {
	w := newWorld(t)
	a := w.agent(t, "web-1")
	b := w.agent(t, "web-2")
	a.keepAlive(100 * time.Millisecond)
	b.keepAlive(100 * time.Millisecond)
	floodLeave(t, w, a, b)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	active := w.startSession(t, alice.Conn, "alice", a.id)
	ended := w.startSession(t, alice.Conn, "alice", a.id)
	if err := api.Call(t.Context(), a.Conn, subjects.AgentAPI(a.id, api.VerbSessionEnded),
		api.SessionEndedRequest{SessionID: ended.Session.ID, Reason: api.ReasonExit}, nil); err != nil {
		t.Fatalf("end a session as its agent: %v", err)
	}
	elsewhere := w.startSession(t, alice.Conn, "alice", b.id)
	framesShipped(t, w, 1) // the ended session's recording: the buckets settle

	// Alice watches the output of all her sessions, from before the attack.
	watch, err := alice.SubscribeSync("tether.s.*.alice.*.out")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Flush(); err != nil {
		t.Fatal(err)
	}
	before := w.snapshot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// (a) Its own running session, with the retention chosen by the agent.
	// The stream refuses it (nats-server's JSMessageTTLDisabledErr).
	const ttlDisabled = 10166
	_, err = a.publishFrame(ctx, active.Subjects.Out, 1, []byte("keep me an hour"), nats.Header{"Nats-TTL": []string{"1h"}})
	if ae := (*jetstream.APIError)(nil); !errors.As(err, &ae) || ae.ErrorCode != ttlDisabled {
		t.Errorf("a frame with a Nats-TTL header: %v; want the stream's refusal of per-message TTLs", err)
	}

	// (b) Sessions that do not run on it, under its own target: the gate refuses them.
	invented := "alice-" + "00112233445566778899"
	refused := []struct{ what, subject string }{
		{"an invented session", subjects.ForSession(a.id, "alice", invented).Out},
		{"an invented session's recorded input", subjects.ForSession(a.id, "alice", invented).Rin},
		{"an ended session", ended.Subjects.Out},
		{"another agent's session, under its own target", subjects.ForSession(a.id, "alice", elsewhere.Session.ID).Out},
		{"its running session under another owner", subjects.ForSession(a.id, "bob", active.Session.ID).Out},
	}
	for i, r := range refused {
		_, err := a.publishFrame(ctx, r.subject, uint64(i+1), []byte("forged"), nil)
		var ae *jetstream.APIError
		if !errors.As(err, &ae) || ae.Code != 403 {
			t.Errorf("frame on %s (%s): %v; want a 403 refusal", r.what, r.subject, err)
		}
	}
	// Another agent's session under that agent's target: its permissions stop it first.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	if _, err := a.publishFrame(short, elsewhere.Subjects.Out, 1, []byte("forged"), nil); err == nil {
		t.Errorf("agent %s stored a frame on %s", a.id, elsewhere.Subjects.Out)
	}
	cancelShort()
	a.v.Has(t, elsewhere.Subjects.Out)

	// Nothing stored, nothing changed.
	w.unchanged(t, before)
	total, byTarget := w.Control.RefusedFrames()
	if want := uint64(len(refused)); total != want || byTarget[a.id] != want || byTarget[b.id] != 0 {
		t.Errorf("refused frames: %d in all, by instance %v; want %d, all of %s", total, byTarget, want, a.id)
	}
	w.logged(t, "frame refused", a.id)

	// (c) A frame of its running session is stored.
	if _, err := a.publishFrame(ctx, active.Subjects.Out, 1, []byte("hello"), nil); err != nil {
		t.Fatalf("a frame of the agent's running session: %v", err)
	}
	stored := framesStored(t, w)
	if len(stored) != 1 || stored[0].Subject != active.Subjects.Out {
		t.Fatalf("the stream holds %d frames; want the one of %s", len(stored), active.Subjects.Out)
	}
	for _, m := range stored {
		if m.Header.Get("Nats-TTL") != "" {
			t.Errorf("stored frame %d on %s has a TTL header", m.Sequence, m.Subject)
		}
	}

	// (d) Alice saw exactly what the stream stored: that frame, nothing else.
	m, err := watch.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("alice did not see the stored frame: %v", err)
	}
	if m.Subject != stored[0].Subject || !slices.Equal(m.Data, stored[0].Data) {
		t.Errorf("alice saw %s %q; the stream stored %s %q", m.Subject, m.Data, stored[0].Subject, stored[0].Data)
	}
	if n, _, _ := watch.Pending(); n != 0 {
		extra, _ := watch.NextMsg(0)
		t.Errorf("alice saw %d frames the stream did not store, e.g. %s", n, extra.Subject)
	}
}

// framesStored reads the agents' frames in the transcript stream, as the broker sees it
// (the broker's own End frames of ended sessions left out).
func framesStored(t *testing.T, w *world) []*jetstream.RawStreamMsg {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), jsdef.StreamTranscripts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("transcript message %d: %v", seq, err)
		}
		if f, err := frame.Decode(m.Data); err == nil && f.Type == frame.End {
			continue // the broker's own record of an end, not an agent's frame
		}
		out = append(out, m)
	}
	return out
}

// framesShipped waits until the shippers have shipped n sessions in all and none waits:
// shipping writes the recordings bucket, which a test comparing snapshots must see settle.
func framesShipped(t *testing.T, w *world, n uint64) {
	t.Helper()
	// A loaded -race run can fail an attempt (a read that times out) and retry it after a
	// backoff: wait as long as that takes, and say what the shippers last reported.
	err := polltest.Wait(time.Minute, func() error {
		var st api.ShipStatusResponse
		if err := w.Call(w.Admin, "admin", api.VerbShipStatus, nil, &st); err != nil {
			return err
		}
		var shipped uint64
		for _, s := range st.Shippers {
			shipped += s.Shipped
		}
		if shipped >= n && st.Pending == 0 && st.AckPending == 0 {
			return nil
		}
		return fmt.Errorf("%d of %d shipped, %d pending, %d unacknowledged; shippers: %+v",
			shipped, n, st.Pending, st.AckPending, st.Shippers)
	})
	if err != nil {
		t.Fatalf("ended sessions not shipped: %v\nbroker warnings:\n%s", err, w.warnings())
	}
}

// The stream's duplicate detection erases nobody's frames: a frame an agent stores on its
// own session with the message id an older tether-agent gave another session's frame
// ("<session>/<seq>") does not make the stream drop that frame, because tether-agent
// publishes its frames with no message id at all (agent/channel/record.go). A compromised
// agent told a session id by its owner would otherwise keep the owner's actions on
// another, honest, agent out of the record.
func TestFramesMessageIDsDoNotCrossSessions(t *testing.T) {
	w := newWorld(t)
	a := w.agent(t, "web-1")
	b := w.agent(t, "web-2")
	a.keepAlive(100 * time.Millisecond)
	b.keepAlive(100 * time.Millisecond)
	floodLeave(t, w, a, b)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	decoy := w.startSession(t, alice.Conn, "alice", a.id)
	honest := w.startSession(t, alice.Conn, "alice", b.id)
	id := nats.Header{"Nats-Msg-Id": []string{honest.Session.ID + "/1"}}
	if _, err := a.publishFrame(t.Context(), decoy.Subjects.Out, 1, []byte("nothing to see"), id); err != nil {
		t.Fatal(err)
	}
	ack, err := b.publishFrame(t.Context(), honest.Subjects.Out, 1, []byte("what alice did"), nil) // as tether-agent does
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate {
		t.Error("the stream took the honest agent's frame for a duplicate of the other agent's")
	}
	var found bool
	for _, m := range framesStored(t, w) {
		found = found || m.Subject == honest.Subjects.Out
	}
	if !found {
		t.Errorf("the stream holds no frame of %s", honest.Subjects.Out)
	}
}

// An End frame is the broker's record that a session ended. One an agent forges on its
// own running session ends nothing: the session stays active, the frames after it are
// recorded and read back, the owner's client (cli/session, asking the broker as the CLI
// does) goes on showing the output, and the session's end is the one the broker
// reports, not the forged one.
func TestFramesForgedEndEndsNothing(t *testing.T) {
	w := newWorld(t)
	a := w.agent(t, "web-1")
	a.keepAlive(100 * time.Millisecond)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	se := w.startSession(t, alice.Conn, "alice", a.id)
	js, err := jetstream.New(a.Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// Alice's client follows the session; the agent waits for it to attach.
	attached, err := a.SubscribeSync(se.Subjects.In)
	if err != nil {
		t.Fatal(err)
	}
	// The server has the subscription before the client sends its first frame, which it
	// sends once: one published before would be missed.
	if err := a.FlushTimeout(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		asked []bool
	)
	ended := func(ctx context.Context) (frame.ExitStatus, bool, error) {
		var r api.GetSessionResponse
		if err := w.Call(alice.Conn, "alice", api.VerbGetSession, api.GetSessionRequest{SessionID: se.Session.ID}, &r); err != nil {
			return frame.ExitStatus{}, false, err
		}
		mu.Lock()
		asked = append(asked, r.Session.Ended())
		mu.Unlock()
		code, why := r.Session.EndStatus()
		return frame.ExitStatus{Code: code, Reason: why}, r.Session.Ended(), nil
	}
	fetch := func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
		var r api.ReadTranscriptResponse
		err := w.Call(alice.Conn, "alice", api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: se.Session.ID, After: after, Max: max}, &r)
		return r.Frames, err
	}
	var out bytes.Buffer
	var status frame.ExitStatus
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := session.Run(ctx, alice.Conn, se, session.Options{NoStdin: true, Stdout: &out, Fetch: fetch, Ended: ended,
			OnExit: func(s frame.ExitStatus) { status = s }})
		done <- result{code, err}
	}()
	if _, err := attached.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("alice's client did not attach: %v", err)
	}

	if _, err := a.publishFrame(ctx, se.Subjects.Out, 1, []byte("before "), nil); err != nil {
		t.Fatal(err)
	}
	forged := frame.Encode(frame.Frame{Type: frame.End, Payload: frame.EncodeExit(frame.ExitStatus{Code: 0, Reason: "terminated: by admin"})})
	if _, err := js.Publish(ctx, se.Subjects.Out, forged); err != nil {
		t.Fatalf("the agent's End frame on its own running session: %v", err)
	}
	brokertest.WaitFor(t, 10*time.Second, "alice's client to ask the broker about the forged End", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(asked) > 0
	})
	if _, err := a.publishFrame(ctx, se.Subjects.Out, 2, []byte("after"), nil); err != nil {
		t.Fatal(err)
	}

	var ds api.DescribeSessionsResponse
	if err := w.Call(alice.Conn, "alice", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Sessions) != 1 || ds.Sessions[0].ID != se.Session.ID {
		t.Fatalf("after a forged End, alice's active sessions are %+v; want %s", ds.Sessions, se.Session.ID)
	}

	// The agent ends it for real: two output frames, exit 3. The broker's End frame ends
	// alice's client with that status.
	if err := api.Call(ctx, a.Conn, subjects.AgentAPI(a.id, api.VerbSessionEnded),
		api.SessionEndedRequest{SessionID: se.Session.ID, ExitCode: 3, Reason: api.ReasonExit, OutFrames: 2}, nil); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("alice's client did not see the session end")
	}
	mu.Lock()
	defer mu.Unlock()
	if r.err != nil || r.code != 3 || status.Reason != api.ReasonExit || out.String() != "before after" {
		t.Fatalf("alice's client: %d, %v, status %+v, output %q; want 3, exit and the output on both sides of the forged End",
			r.code, r.err, status, out.String())
	}
	if len(asked) < 2 || asked[0] || !asked[len(asked)-1] {
		t.Fatalf("the broker answered alice's client that the session had ended: %v; want no, then yes", asked)
	}

	if err := w.Call(alice.Conn, "alice", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "History"}, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Sessions) != 1 || ds.Sessions[0].Reason != api.ReasonExit || ds.Sessions[0].ExitCode == nil || *ds.Sessions[0].ExitCode != 3 {
		t.Fatalf("the ended session is recorded as %+v; want exit status 3", ds.Sessions)
	}
	var tr api.ReadTranscriptResponse
	if err := w.Call(alice.Conn, "alice", api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: se.Session.ID}, &tr); err != nil {
		t.Fatal(err)
	}
	var rec []string
	for _, f := range tr.Frames {
		fr, err := frame.Decode(f.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Type == frame.Stdout {
			rec = append(rec, string(fr.Payload))
		}
	}
	if !slices.Equal(rec, []string{"before ", "after"}) || !tr.Complete {
		t.Fatalf("alice reads the record %q (complete %v); want the output on both sides of the forged End", rec, tr.Complete)
	}
}
