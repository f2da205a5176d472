package brokerd_test

import (
	"context"
	"strings"
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
