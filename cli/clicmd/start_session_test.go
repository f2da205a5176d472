package clicmd

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/frame"
	"github.com/tetherhq/tether/streams/subjects"
)

// serveSessions answers StartSession by starting a fake agent and running script on it
// once the client attached; ReadTranscript is served from the agent's record.
func serveSessions(t *testing.T, e *env, script func(ctx context.Context, a *sessiontest.Agent, attach frame.Frame) error) *api.StartSessionRequest {
	var mu sync.Mutex
	var agent *sessiontest.Agent
	got := new(api.StartSessionRequest)
	e.handle(api.VerbStartSession, func(data []byte) (any, error) {
		*got = decode[api.StartSessionRequest](t, data)
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
			Session:  api.Session{ID: "alice-0a1b2c3d", Owner: "alice", Target: got.Target, State: api.StateConnecting},
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
