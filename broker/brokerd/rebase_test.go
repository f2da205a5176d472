package brokerd_test

import (
	"testing"
	"time"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// A client that lies about what it consumed (Window frames with FlagRebase, each a fresh
// window of credit, while it reads nothing) makes its real agent send without limit; the
// broker's per-agent transcript budget still ends the session (transcript_budget). A
// client that reads nothing and does not lie holds its agent to one window, within the
// budget, and its session runs on.
func TestRebaseSpamEndsAtTheTranscriptBudget(t *testing.T) {
	const budget = 3 * frame.DefaultWindow
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.Limits.AgentTranscriptBytes = budget })
	startAgent(t, s, "spam")
	startAgent(t, s, "calm")
	start := func(target string) api.StartSessionResponse {
		var r api.StartSessionResponse
		// 64 MiB of output, far past the budget.
		if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: target,
			Command: []string{"head", "-c", "67108864", "/dev/zero"}}, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	spam, calm := start("spam"), start("calm")
	seqs := map[string]uint64{}
	send := func(st api.StartSessionResponse, f frame.Frame) {
		seqs[st.Session.ID]++
		f.Seq = st.InputSeq + seqs[st.Session.ID]
		if err := s.Admin.Publish(st.Subjects.In, frame.Encode(f)); err != nil {
			t.Fatal(err)
		}
	}
	// Both attach; neither reads its output.
	send(calm, frame.Frame{Type: frame.Keepalive})
	send(spam, frame.Frame{Type: frame.Keepalive})
	rebase := frame.Frame{Type: frame.Window, Flags: frame.FlagRebase, Payload: frame.EncodeWindow(0)}
	var ended api.Session
	brokertest.WaitFor(t, 30*time.Second, "the lying client's session to end", func() bool {
		send(spam, rebase)
		ended = getSession(t, s, spam.Session.ID)
		return ended.Ended()
	})
	if ended.Reason != api.ReasonTranscriptBudget {
		t.Fatalf("the lying client's session ended %q (%s); want %q", ended.Reason, ended.Detail, api.ReasonTranscriptBudget)
	}
	if c := getSession(t, s, calm.Session.ID); c.Ended() {
		t.Fatalf("the client that read nothing, honestly, had its session ended: %q (%s)", c.Reason, c.Detail)
	}
}
