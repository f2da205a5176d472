package clicmd

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// serveSessions answers StartSession by starting a fake agent and running script on it
// once the client attached; ReadTranscript is served from the agent's record.
func serveSessions(t *testing.T, e *env, script func(ctx context.Context, a *sessiontest.Agent, attach frame.Frame) error) *api.StartSessionRequest {
	return serveSessionsOn(t, e, api.VerbStartSession, api.Session{}, script)
}

// serveSessionsOn is serveSessions answering verb: StartSession, or ResumeSession for
// the session resumed (its ID, target and Interactive).
func serveSessionsOn(t *testing.T, e *env, verb string, resumed api.Session,
	script func(ctx context.Context, a *sessiontest.Agent, attach frame.Frame) error) *api.StartSessionRequest {
	var mu sync.Mutex
	var agent *sessiontest.Agent
	got := new(api.StartSessionRequest)
	e.handle(verb, func(data []byte) (any, error) {
		if verb == api.VerbResumeSession {
			if req := decode[api.ResumeSessionRequest](t, data); req.SessionID != resumed.ID {
				return nil, &api.Error{Code: api.CodeNotFound, Message: "no session " + req.SessionID}
			}
			got.Target, got.Interactive = resumed.Target, resumed.Interactive
		} else {
			*got = decode[api.StartSessionRequest](t, data)
		}
		s := subjects.ForSession(got.Target, "alice", "alice-0a1b2c3d")
		subj := api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl}
		a, err := sessiontest.NewAgent(e.cp, subj, 0)
		if err != nil {
			t.Errorf("start agent: %v", err)
			return nil, &api.Error{Code: api.CodeInternal, Message: err.Error()}
		}
		mu.Lock()
		agent = a
		mu.Unlock()
		e.wg.Go(func() {
			defer a.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			attach, err := a.WaitAttach(ctx)
			if err != nil {
				t.Errorf("agent: %v", err)
				return
			}
			if err := script(ctx, a, attach); err != nil {
				t.Errorf("agent script: %v", err)
			}
			if err := a.Err(); err != nil {
				t.Errorf("agent saw protocol errors: %v", err)
			}
		})
		return api.StartSessionResponse{
			Session: api.Session{ID: "alice-0a1b2c3d", Owner: "alice", Target: got.Target, State: api.StateConnecting,
				Interactive: got.Interactive},
			Subjects: subj,
			Window:   frame.DefaultWindow,
		}, nil
	})
	e.handle(api.VerbReadTranscript, func(data []byte) (any, error) {
		req := decode[api.ReadTranscriptRequest](t, data)
		mu.Lock()
		a := agent
		mu.Unlock()
		frames, _ := a.Fetch(context.Background(), req.After, req.Max)
		return api.ReadTranscriptResponse{Frames: frames}, nil
	})
	return got
}

func TestStartSessionCommand(t *testing.T) {
	e := newEnv(t)
	req := serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, attach frame.Frame) error {
		if attach.Type != frame.Keepalive {
			t.Errorf("attach frame = %s, want keepalive", attach.Type)
		}
		in, err := a.Stdin(ctx)
		if err != nil {
			return err
		}
		a.Drop(2) // lost live, repaired from the transcript
		for _, f := range []struct {
			t frame.Type
			p string
		}{{frame.Stdout, "got: "}, {frame.Stdout, string(in)}, {frame.Stderr, "a warning\n"}} {
			if err := a.Send(ctx, f.t, []byte(f.p)); err != nil {
				return err
			}
		}
		return a.Exit(ctx, 42, "exit")
	})
	r := e.run("hello\n", "start-session", "--target", "web-1", "--reason", "JIRA-1", "cat", "-n")
	if r.code != 42 {
		t.Errorf("exit %d, want 42 (stderr %q)", r.code, r.stderr)
	}
	if r.stdout != "got: hello\n" || r.stderr != "a warning\n" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
	want := api.StartSessionRequest{Target: "web-1", Command: []string{"cat", "-n"}, Term: "xterm-256color", Reason: "JIRA-1"}
	if !reflect.DeepEqual(*req, want) {
		t.Errorf("request = %+v, want %+v", *req, want)
	}
}

func TestStartSessionNoStdin(t *testing.T) {
	e := newEnv(t)
	serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, _ frame.Frame) error {
		f, err := a.Next(ctx)
		if err != nil {
			return err
		}
		if f.Type != frame.Close {
			t.Errorf("first frame after attach = %s, want close", f.Type)
		}
		return a.Exit(ctx, -1, "terminated by bob")
	})
	r := e.run("ignored", "start-session", "--target", "web-1", "-n", "--", "sleep", "100")
	if r.code != 255 {
		t.Errorf("exit %d, want 255", r.code)
	}
	if r.stderr != "tether: session alice-0a1b2c3d ended (terminated by bob)\n" {
		t.Errorf("stderr %q", r.stderr)
	}
}

// serveDocument answers GetDocument with a document of the given session type.
func serveDocument(t *testing.T, e *env, name, sessionType string) {
	e.handle(api.VerbGetDocument, func(data []byte) (any, error) {
		if req := decode[api.GetDocumentRequest](t, data); req.Name != name {
			return nil, &api.Error{Code: api.CodeNotFound, Message: "no document " + req.Name}
		}
		return api.GetDocumentResponse{Document: api.DocumentDescription{Name: name, SessionType: sessionType}}, nil
	})
}

func TestStartSessionCommandDocument(t *testing.T) {
	e := newEnv(t)
	serveDocument(t, e, "Ops-Restart", api.SessionTypeNonInteractive)
	req := serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, _ frame.Frame) error {
		if err := a.Send(ctx, frame.Stdout, []byte("restarted\n")); err != nil {
			return err
		}
		if err := a.Send(ctx, frame.Stderr, []byte("took 2s\n")); err != nil {
			return err
		}
		return a.Exit(ctx, 0, "exit")
	})
	r := e.run("", "start-session", "--target", "web-1", "--document-name", "Ops-Restart", "-n",
		"--parameters", "service=nginx,mode=graceful", "--parameters", `{"flags":["--now,--quiet"]}`)
	if r.code != 0 || r.stdout != "restarted\n" || r.stderr != "took 2s\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	want := api.StartSessionRequest{Target: "web-1", Document: "Ops-Restart", Term: "xterm-256color",
		Parameters: map[string][]string{"service": {"nginx"}, "mode": {"graceful"}, "flags": {"--now,--quiet"}}}
	if !reflect.DeepEqual(*req, want) {
		t.Errorf("request = %+v, want %+v", *req, want)
	}
}

func TestStartSessionDocumentTypes(t *testing.T) {
	e := newEnv(t)
	serveDocument(t, e, "Top", api.SessionTypeInteractive)
	r := e.run("", "start-session", "--target", "web-1", "--document-name", "Top")
	want := "tether: an interactive session needs a terminal on stdin; to run a command without one, give the command after --\n" +
		"Try: tether start-session --target web-1 -- COMMAND [ARG...]\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("interactive without a terminal: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "start-session", "--target", "web-1", "--document-name", "Gone")
	if r.code != 1 || r.stderr != "tether: no document Gone\n" {
		t.Errorf("missing document: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestResumeSession(t *testing.T) {
	e := newEnv(t)
	sess := api.Session{ID: "alice-0a1b2c3d", Owner: "alice", Target: "web-1", State: api.StateConnected}
	serveSessionsOn(t, e, api.VerbResumeSession, sess, func(ctx context.Context, a *sessiontest.Agent, _ frame.Frame) error {
		in, err := a.Stdin(ctx)
		if err != nil {
			return err
		}
		if err := a.Send(ctx, frame.Stdout, append([]byte("again: "), in...)); err != nil {
			return err
		}
		return a.Exit(ctx, 7, "exit")
	})
	r := e.run("more\n", "resume-session", "--session-id", sess.ID)
	if r.code != 7 || r.stdout != "again: more\n" || r.stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.run("", "resume-session", "--session-id", "alice-ffff")
	if r.code != 1 || r.stderr != "tether: no session alice-ffff\n" {
		t.Errorf("unknown session: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "resume-session", sess.ID, "--from", "-2")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "tether: --from -2: a frame number is 0 or more\n") {
		t.Errorf("--from -2: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestResumeInteractiveNeedsTerminal(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbResumeSession, func(data []byte) (any, error) {
		req := decode[api.ResumeSessionRequest](t, data)
		return api.StartSessionResponse{Session: api.Session{ID: req.SessionID, Interactive: true, State: api.StateConnected},
			Subjects: api.Subjects{In: "in", Out: "out", Ctl: "ctl"}}, nil
	})
	want := "tether: session alice-1 is interactive: resuming it needs a terminal on stdin\nTry: tether resume-session --help\n"
	for _, args := range [][]string{{"--session-id", "alice-1"}, {"alice-1"}} { // the flag, and the shortcut
		r := e.run("", append([]string{"resume-session"}, args...)...)
		if r.code != 2 || r.stderr != want {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
