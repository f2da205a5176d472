package brokerd_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
)

// A client that loses its session resumes it: the output it missed comes from the
// transcript, and input and output flow on as before. Only the owner may resume.
func TestResumeSession(t *testing.T) {
	s := brokertest.NewServer(t)
	startAgent(t, s, "web-1")
	eveSeed := s.AddUser("eve", nil, map[string]string{"env": "test"})
	eve := s.ConnectUser("eve", eveSeed)

	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{
		Target: "web-1", Command: []string{"sh", "-c", "echo one; read x; echo two $x"},
	}, &start); err != nil {
		t.Fatal(err)
	}
	id := start.Session.ID
	fetch := func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
		var resp api.ReadTranscriptResponse
		err := s.Call(s.Admin, "admin", api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: id, After: after, Max: max}, &resp)
		return resp.Frames, err
	}

	// The first client sees "one", then goes away.
	var first syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = session.Run(ctx, s.Admin, start, session.Options{Stdout: &first, Stderr: &first, Fetch: fetch})
	}()
	brokertest.WaitFor(t, 10*time.Second, "the first output", func() bool { return strings.Contains(first.String(), "one") })
	cancel()
	<-done

	if err := s.Call(eve, "eve", api.VerbResumeSession, api.ResumeSessionRequest{SessionID: id}, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("eve resuming admin's session: %v", err)
	}
	var resumed api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbResumeSession, api.ResumeSessionRequest{SessionID: id}, &resumed); err != nil {
		t.Fatal(err)
	}
	if resumed.Session.ID != id || resumed.Subjects != start.Subjects {
		t.Fatalf("resumed = %+v", resumed)
	}
	var out syncBuffer
	code, err := session.Run(context.Background(), s.Admin, resumed, session.Options{
		Stdin: strings.NewReader("again\n"), Stdout: &out, Stderr: &out, Fetch: fetch,
	})
	if err != nil || code != 0 || out.String() != "one\ntwo again\n" {
		t.Fatalf("resumed session: code %d, err %v, output %q", code, err, out.String())
	}
	// An ended session cannot be resumed.
	brokertest.WaitFor(t, 10*time.Second, "the session's end", func() bool {
		var got api.GetSessionResponse
		return s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &got) == nil && got.Session.Ended()
	})
	if err := s.Call(s.Admin, "admin", api.VerbResumeSession, api.ResumeSessionRequest{SessionID: id}, nil); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("resuming an ended session: %v", err)
	}
}

// A resumed client gets only what it missed, not the whole transcript: the broker says
// which output frame the record ends with, the client shows what follows, and its count of
// consumed output starts afresh (FlagRebase), so the agent's credit window, which the lost
// client left full, opens again for several windows more of output.
func TestResumeSendsOnlyWhatWasMissed(t *testing.T) {
	s := brokertest.NewServer(t)
	startAgent(t, s, "web-1")
	const before, after = 4_000_000, 5_000_000
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{
		Target: "web-1", Command: []string{"sh", "-c", fmt.Sprintf(
			`head -c %d /dev/zero | tr '\0' x; echo; echo mark; read v; head -c %d /dev/zero | tr '\0' y; echo; echo end $v`, before, after)},
	}, &start); err != nil {
		t.Fatal(err)
	}
	id := start.Session.ID
	var fetched atomic.Int64
	fetch := func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
		var resp api.ReadTranscriptResponse
		err := s.Call(s.Admin, "admin", api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: id, After: after, Max: max}, &resp)
		for _, f := range resp.Frames {
			fetched.Add(int64(len(f.Frame)))
		}
		return resp.Frames, err
	}

	var first syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := session.Run(ctx, s.Admin, start, session.Options{Stdout: &first, Stderr: &first, Fetch: fetch})
		done <- err
	}()
	brokertest.WaitFor(t, 30*time.Second, "the first output", func() bool { return strings.Contains(first.String(), "mark") })
	cancel()
	var detached *session.DetachedError
	if err := <-done; !errors.As(err, &detached) || detached.Last == 0 {
		t.Fatalf("the first client stopped with %v, want a DetachedError saying the last frame shown", err)
	}

	var resumed api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbResumeSession, api.ResumeSessionRequest{SessionID: id}, &resumed); err != nil {
		t.Fatal(err)
	}
	if resumed.OutputSeq < detached.Last {
		t.Fatalf("resume says the record ends at frame %d; the first client showed %d", resumed.OutputSeq, detached.Last)
	}
	fetched.Store(0)
	var out syncBuffer
	code, err := session.Run(context.Background(), s.Admin, resumed, session.Options{
		Stdin: strings.NewReader("again\n"), Stdout: &out, Stderr: &out, Fetch: fetch,
		After: resumed.OutputSeq, Resume: true,
	})
	if err != nil || code != 0 {
		t.Fatalf("resumed session: code %d, err %v", code, err)
	}
	want := strings.Repeat("y", after) + "\nend again\n"
	if got := out.String(); got != want {
		t.Fatalf("resumed output: %d bytes ending %q, want %d bytes of new output only", len(got), got[max(0, len(got)-20):], len(want))
	}
	// The whole transcript would be more than the 4 MB printed before the resume.
	if n := fetched.Load(); n > 64<<10 {
		t.Fatalf("the resumed client read %d bytes from the transcript, want only what it missed (%d bytes printed before)", n, before)
	}
	t.Logf("resume after %d bytes of output: %d bytes read from the transcript, %d shown", before, fetched.Load(), len(want))
}
