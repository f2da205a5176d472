package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

func TestShellSession(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-shell1", api.AgentStart{Interactive: true, Cols: 120, Rows: 30})
	c.stdin("echo hello-$((6*7))\n")
	c.waitOutput("hello-42")

	c.send(frame.Resize, frame.EncodeSize(frame.Size{Cols: 100, Rows: 40}))
	c.stdin("stty size\n")
	c.waitOutput("40 100")

	c.stdin("exit 3\n")
	st := c.waitExit()
	if st.Code != 3 || st.Reason != api.ReasonExit {
		t.Fatalf("exit = %+v, want code 3 reason exit", st)
	}
	want := []frame.Size{{Cols: 120, Rows: 30}, {Cols: 100, Rows: 40}}
	if len(c.sizes) != 2 || c.sizes[0] != want[0] || c.sizes[1] != want[1] {
		t.Fatalf("resize frames %v, want %v", c.sizes, want)
	}
	ended := e.cp.waitEnded(t, c.id)
	if ended.ExitCode != 3 || ended.Reason != api.ReasonExit || ended.OutFrames != uint64(len(c.frames)) {
		t.Fatalf("SessionEnded = %+v, client saw %d frames", ended, len(c.frames))
	}
	if ended.OutBytes != uint64(c.text.Len()) {
		t.Fatalf("SessionEnded.OutBytes = %d, client saw %d", ended.OutBytes, c.text.Len())
	}
}

func TestShellCtrlC(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-ctrlc", api.AgentStart{Interactive: true})
	// The foreground job prints and becomes sleep itself: once "started-5" shows, a ^C
	// reaches sleep. (With the shell's own echo builtin before a sleep it forks, a ^C
	// could land between the two and leave sleep running.)
	c.stdin("sh -c 'echo started-$((2+3)); exec sleep 100'\n")
	c.waitOutput("started-5")
	// Interrupt until the prompt answers.
	deadline := time.Now().Add(waitLong)
	for n := 0; !strings.Contains(c.text.String(), "back-2"); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("sleep was not interrupted; output %q", tail(c.text.String()))
		}
		if n%10 == 0 {
			c.stdin("\x03")
			c.stdin("echo back-$((1+1))\n")
		}
		c.next(50 * time.Millisecond)
	}
	c.stdin("exit\n")
	c.waitExit()
}

func TestCommandSession(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-cmd", api.AgentStart{Command: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}})
	c.send(frame.Keepalive, nil) // attach
	st := c.waitExit()
	if st.Code != 7 || st.Reason != api.ReasonExit {
		t.Fatalf("exit = %+v", st)
	}
	if got := c.text.String(); got != "out\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := c.stderr.String(); got != "err\n" {
		t.Errorf("stderr = %q", got)
	}
	ended := e.cp.waitEnded(t, c.id)
	if ended.ExitCode != 7 || ended.OutFrames != uint64(len(c.frames)) || ended.OutBytes != 8 {
		t.Fatalf("SessionEnded = %+v, client saw %d frames", ended, len(c.frames))
	}
}

// A command that does not exist ends its session as a shell would: status 127 and
// "NAME: command not found" on stderr (on the terminal, for an interactive session); one
// that may not be executed, 126.
func TestCommandNotFound(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		argv        []string
		interactive bool
		code        int
		stdout      string
		stderr      string
	}{
		{[]string{"no-such-cmd", "-x"}, false, 127, "", "no-such-cmd: command not found\n"},
		{[]string{"/no/such/cmd"}, false, 127, "", "/no/such/cmd: No such file or directory\n"},
		{[]string{notExec}, false, 126, "", notExec + ": Permission denied\n"},
		{[]string{"no-such-cmd"}, true, 127, "no-such-cmd: command not found\r\n", ""},
	} {
		c := e.startSession(fmt.Sprintf("alice-nf%d", i), api.AgentStart{Command: tc.argv, Interactive: tc.interactive})
		c.send(frame.Keepalive, nil) // attach
		st := c.waitExit()
		if st.Code != int32(tc.code) || st.Reason != api.ReasonExit {
			t.Errorf("%q: exit = %+v, want %d", tc.argv, st, tc.code)
		}
		if c.text.String() != tc.stdout || c.stderr.String() != tc.stderr {
			t.Errorf("%q: stdout %q, stderr %q; want %q, %q", tc.argv, c.text.String(), c.stderr.String(), tc.stdout, tc.stderr)
		}
		if ended := e.cp.waitEnded(t, c.id); ended.ExitCode != tc.code || ended.Reason != api.ReasonExit {
			t.Errorf("%q: SessionEnded = %+v", tc.argv, ended)
		}
	}
}

func TestCommandStdinAndSignal(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-cat", api.AgentStart{Command: []string{"cat"}})
	c.stdin("line one\n")
	c.waitOutput("line one\n")
	c.send(frame.Close, nil)
	if st := c.waitExit(); st.Code != 0 {
		t.Fatalf("cat after stdin close: %+v", st)
	}

	c = e.startSession("alice-sleep", api.AgentStart{Command: []string{"sleep", "100"}})
	c.send(frame.Signal, []byte("BOGUS")) // ignored
	c.send(frame.Signal, []byte("TERM"))
	if st := c.waitExit(); st.Code != 128+15 || st.Reason != "signal: terminated" {
		t.Fatalf("sleep after TERM: %+v", st)
	}
}

// TestTranscript checks that the stream recorded exactly the frames the client saw, for a
// few MiB of output.
func TestTranscript(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-bulk", api.AgentStart{Command: []string{"sh", "-c", "head -c 3000000 /dev/urandom | base64"}})
	c.send(frame.Keepalive, nil)
	st := c.waitExit()
	if st.Code != 0 {
		t.Fatalf("exit %+v", st)
	}
	if n := c.text.Len(); n < 4000000 {
		t.Fatalf("got %d bytes of output", n)
	}
	big := 0
	for _, f := range c.frames {
		if len(f) == frame.HeaderLen+frame.ChunkSize {
			big++
		}
	}
	if big < len(c.frames)/2 {
		t.Errorf("only %d of %d frames are full chunks: output is not batched", big, len(c.frames))
	}
	ended := e.cp.waitEnded(t, c.id)
	if ended.OutFrames != uint64(len(c.frames)) {
		t.Fatalf("OutFrames %d, client saw %d", ended.OutFrames, len(c.frames))
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cons, err := e.js.OrderedConsumer(ctx, transcript, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.subj.Out}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range c.frames {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("stream message %d: %v", i+1, err)
		}
		if !bytes.Equal(m.Data(), want) {
			f, _ := frame.Decode(m.Data())
			t.Fatalf("stream message %d (seq %d) differs from the client's frame %d", i+1, f.Seq, i+1)
		}
	}
	info, err := e.js.Stream(ctx, transcript)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != uint64(len(c.frames)) {
		t.Fatalf("stream holds %d messages, want %d", n, len(c.frames))
	}
}

func TestFlowControl(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	const window = 64 << 10
	const total = 1 << 20
	c := e.startSession("alice-flow", api.AgentStart{Command: []string{"head", "-c", "1048576", "/dev/zero"}, Window: window})
	c.ack = false
	c.send(frame.Keepalive, nil)
	// Without credit the agent stops at the window.
	for {
		if _, ok := c.next(500 * time.Millisecond); !ok {
			break
		}
		if c.text.Len() > window {
			t.Fatalf("received %d bytes without acknowledging, window is %d", c.text.Len(), window)
		}
	}
	if c.text.Len() == 0 || c.exit != nil {
		t.Fatalf("received %d bytes, exit %+v", c.text.Len(), c.exit)
	}
	// With credit it sends the rest.
	c.ack = true
	c.send(frame.Window, frame.EncodeWindow(uint64(c.text.Len())))
	c.acker.Consumed(c.text.Len())
	c.acker.Flush()
	if st := c.waitExit(); st.Code != 0 || c.text.Len() != total {
		t.Fatalf("exit %+v after %d bytes, want %d", st, c.text.Len(), total)
	}
}

// recordedInput reads every message on the session's recorded-input subject.
func (c *client) recordedInput() []jetstream.Msg {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	st, err := c.e.js.Stream(ctx, transcript)
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(c.subj.Rin))
	if err != nil {
		c.t.Fatal(err)
	}
	n := info.State.Subjects[c.subj.Rin]
	if n == 0 {
		return nil
	}
	cons, err := c.e.js.OrderedConsumer(ctx, transcript, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.subj.Rin}})
	if err != nil {
		c.t.Fatal(err)
	}
	var msgs []jetstream.Msg
	for uint64(len(msgs)) < n {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			c.t.Fatalf("recorded input %d of %d: %v", len(msgs)+1, n, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestRecordInput(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-rin", api.AgentStart{Interactive: true, RecordInput: true})
	typed := []string{"echo one-$((0+1))\n", "e", "c", "h", "o two-$((1+1))\n", "exit 4\n"}
	for _, s := range typed[:len(typed)-1] {
		c.stdin(s)
	}
	c.waitOutput("two-2")
	c.stdin(typed[len(typed)-1])
	if st := c.waitExit(); st.Code != 4 {
		t.Fatalf("exit = %+v", st)
	}
	e.cp.waitEnded(t, c.id) // every recorded frame is acknowledged by now

	msgs := c.recordedInput()
	if len(msgs) != len(typed) {
		t.Fatalf("%d recorded input frames, want %d", len(msgs), len(typed))
	}
	for i, m := range msgs {
		f, err := frame.Decode(m.Data())
		if err != nil {
			t.Fatalf("recorded input %d: %v", i+1, err)
		}
		if f.Type != frame.Stdin || f.Seq != uint64(i+1) || string(f.Payload) != typed[i] {
			t.Errorf("recorded input %d = %v seq %d %q, want stdin seq %d %q", i+1, f.Type, f.Seq, f.Payload, i+1, typed[i])
		}
		if got := m.Headers().Get(jetstream.MsgIDHeader); got != "" {
			t.Errorf("recorded input %d has message id %q, which another agent could borrow", i+1, got)
		}
		if got := m.Headers().Get(jetstream.MsgTTLHeader); got != "" {
			t.Errorf("recorded input %d has TTL %q: how long frames are kept is the broker's decision", i+1, got)
		}
	}
	// The output keeps its own numbering from 1, untouched by the input's.
	if f, _ := frame.Decode(c.frames[0]); f.Seq != 1 {
		t.Fatalf("first output frame has seq %d", f.Seq)
	}
}

func TestInputNotRecordedByDefault(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-norin", api.AgentStart{Interactive: true})
	c.stdin("echo three-$((1+2))\n")
	c.waitOutput("three-3")
	c.stdin("exit\n")
	c.waitExit()
	e.cp.waitEnded(t, c.id)
	if msgs := c.recordedInput(); len(msgs) != 0 {
		t.Fatalf("%d frames recorded on %s without RecordInput", len(msgs), c.subj.Rin)
	}
}
