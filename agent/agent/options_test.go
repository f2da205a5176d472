package agent_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/agent/shell/shelltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func TestRunAs(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	u := shelltest.RunAsUser(t)
	dir := u.HomeDir
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		dir = "/"
	}
	c := e.startSession("alice-runas", api.AgentStart{Interactive: true, RunAs: u.Username})
	c.stdin(`echo "who=$(id -un) uid=$(id -u) home=$HOME user=$USER dir=$(pwd) tty=$(stat -c %u "$(tty)")"` + "\n")
	c.waitOutput("who=" + u.Username + " uid=" + u.Uid + " home=" + u.HomeDir + " user=" + u.Username + " dir=" + dir + " tty=" + u.Uid + "\r\n")
	c.stdin("exit\n")
	if st := c.waitExit(); st.Code != 0 || st.Reason != api.ReasonExit {
		t.Fatalf("exit = %+v", st)
	}

	// A command runs as the user too.
	c = e.startSession("alice-runas-cmd", api.AgentStart{Command: []string{"id", "-un"}, RunAs: u.Username})
	c.send(frame.Keepalive, nil)
	if st := c.waitExit(); st.Code != 0 || c.text.String() != u.Username+"\n" {
		t.Fatalf("exit %+v, output %q", st, c.text.String())
	}
}

func TestRunAsMissingUser(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	s := subjects.ForSession(instanceID, "alice", "alice-nouser")
	st := api.AgentStart{
		SessionID: "alice-nouser", Owner: "alice", Subjects: api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl},
		Interactive: true, RunAs: "tether-no-such-user",
	}
	r := e.controlJSON(api.AgentControl{Start: &st})
	if want := `run-as user "tether-no-such-user" does not exist on this instance`; r.OK || r.Error != want {
		t.Fatalf("reply %+v, want error %q", r, want)
	}
}

func TestShellProfile(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-profile", api.AgentStart{Interactive: true, ShellProfile: "export TETHER_PROFILE_TEST=42\ncd /tmp\n"})
	// The client types at once: its input must come after the profile's.
	c.stdin(`echo "v=$TETHER_PROFILE_TEST dir=$(pwd)"` + "\n")
	c.waitOutput("v=42 dir=/tmp")
	c.stdin("exit\n")
	c.waitExit()
}

func TestIdleTimeout(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-idle", api.AgentStart{Interactive: true, IdleTimeout: api.Duration(300 * time.Millisecond)})
	c.stdin("echo typed\n")
	// Keepalives are not activity (nor are the credit reports the client sends).
	c.send(frame.Keepalive, nil)
	st := c.waitExit()
	if st.Reason != api.ReasonIdleTimeout {
		t.Fatalf("exit = %+v, want reason %s", st, api.ReasonIdleTimeout)
	}
	if ended := e.cp.waitEnded(t, c.id); ended.Reason != api.ReasonIdleTimeout || ended.OutFrames != uint64(len(c.frames)) {
		t.Fatalf("SessionEnded = %+v", ended)
	}
}

func TestMaxDuration(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	// Without a terminal, output is activity: the busy command is never idle, and runs
	// into its maximum duration.
	c := e.startSession("alice-max", api.AgentStart{
		Command: []string{"sh", "-c", "while :; do echo tick; sleep 0.02; done"},
		// 75 ticks of margin against the idle limit, for a loaded machine.
		IdleTimeout: api.Duration(1500 * time.Millisecond),
		MaxDuration: api.Duration(2500 * time.Millisecond),
	})
	c.send(frame.Keepalive, nil)
	st := c.waitExit()
	if st.Reason != api.ReasonMaxDuration || !strings.Contains(c.text.String(), "tick") {
		t.Fatalf("exit = %+v after %q, want reason %s", st, tail(c.text.String()), api.ReasonMaxDuration)
	}
	if ended := e.cp.waitEnded(t, c.id); ended.Reason != api.ReasonMaxDuration {
		t.Fatalf("SessionEnded = %+v", ended)
	}

	// A silent command without input is idle.
	c = e.startSession("alice-quiet", api.AgentStart{Command: []string{"sleep", "100"}, IdleTimeout: api.Duration(200 * time.Millisecond)})
	c.send(frame.Keepalive, nil)
	if st := c.waitExit(); st.Reason != api.ReasonIdleTimeout {
		t.Fatalf("exit = %+v, want reason %s", st, api.ReasonIdleTimeout)
	}
}

// TestFramesCarryNoTTL: how long the stream keeps a session's frames is the broker's
// decision; the agent never asks for a per-message TTL (the transcript stream refuses
// frames that do).
func TestFramesCarryNoTTL(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	stream, err := e.js.Stream(ctx, transcript)
	if err != nil {
		t.Fatal(err)
	}
	c := e.startSession("alice-ttl2", api.AgentStart{Command: []string{"echo", "kept"}})
	c.send(frame.Keepalive, nil)
	c.waitExit()
	e.cp.waitEnded(t, c.id) // every frame is in the stream
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(c.frames)) {
		t.Fatalf("stream holds %d frames, want %d", info.State.Msgs, len(c.frames))
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get(jetstream.MsgTTLHeader); got != "" {
			t.Fatalf("frame %d: %s header %q, want none", seq, jetstream.MsgTTLHeader, got)
		}
		// Nor a message id, which another agent could take first to have it dropped.
		if got := m.Header.Get(jetstream.MsgIDHeader); got != "" {
			t.Fatalf("frame %d: %s header %q, want none", seq, jetstream.MsgIDHeader, got)
		}
	}
}
