package agent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/agent/shell/shelltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func TestMain(m *testing.M) {
	removeHome, err := shelltest.IsolateHome()
	if err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { removeHome() }))
}

func TestTerminate(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-term", api.AgentStart{Interactive: true})
	c.stdin("echo ready-$((1+1))\n")
	c.waitOutput("ready-2")
	if r := e.controlJSON(api.AgentControl{Terminate: &api.AgentTerminate{SessionID: c.id, Reason: "terminated by bob"}}); !r.OK {
		t.Fatalf("terminate: %s", r.Error)
	}
	st := c.waitExit()
	if st.Reason != "terminated by bob" {
		t.Fatalf("exit = %+v", st)
	}
	ended := e.cp.waitEnded(t, c.id)
	if ended.Reason != "terminated by bob" || ended.OutFrames != uint64(len(c.frames)) {
		t.Fatalf("SessionEnded = %+v", ended)
	}
	r := e.controlJSON(api.AgentControl{Terminate: &api.AgentTerminate{SessionID: "alice-nope", Reason: "x"}})
	if r.OK || r.Error != "no such session" {
		t.Fatalf("terminate unknown = %+v", r)
	}
}

func TestEndSessionsFromHeartbeat(t *testing.T) {
	e := newEnv(t)
	e.cp.heartbeat = 50 * time.Millisecond
	e.runAgent(agent.Config{})
	c := e.startSession("alice-hb", api.AgentStart{Command: []string{"sleep", "100"}})
	c.send(frame.Keepalive, nil)
	eventually(t, "heartbeat listing the session", func() bool {
		e.cp.mu.Lock()
		defer e.cp.mu.Unlock()
		n := len(e.cp.heartbeats)
		return n > 0 && len(e.cp.heartbeats[n-1].Sessions) == 1 && e.cp.heartbeats[n-1].Sessions[0] == c.id
	})
	e.cp.mu.Lock()
	e.cp.endOnBeat = []string{c.id}
	e.cp.mu.Unlock()
	if st := c.waitExit(); st.Reason != api.ReasonTerminated {
		t.Fatalf("exit = %+v", st)
	}
	e.cp.waitEnded(t, c.id)
}

func TestAttachTimeout(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{AttachTimeout: 200 * time.Millisecond})
	c := e.startSession("alice-late", api.AgentStart{Interactive: true})
	st := c.waitExit()
	if st.Reason != agent.ReasonAttachTimeout || len(c.frames) != 1 {
		t.Fatalf("exit = %+v after %d frames", st, len(c.frames))
	}
	if ended := e.cp.waitEnded(t, c.id); ended.Reason != agent.ReasonAttachTimeout || ended.OutFrames != 1 {
		t.Fatalf("SessionEnded = %+v", ended)
	}
}

func TestControlRejects(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	s := subjects.ForSession(instanceID, "alice", "alice-x")
	good := api.AgentStart{SessionID: "alice-x", Owner: "alice", Subjects: api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl}}
	with := func(f func(*api.AgentStart)) []byte {
		st := good
		f(&st)
		b, _ := json.Marshal(api.AgentControl{Start: &st})
		return b
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not json", `{"start":`, "malformed request"},
		{"trailing", `{"terminate":{"session_id":"a"}} x`, "malformed request"},
		{"trailing brace", `{"terminate":{"session_id":"a"}}}`, "data after the JSON value"},
		{"unknown field", `{"terminate":{"session_id":"a","also":"rm -rf"}}`, `unknown field "also"`},
		{"empty", `{}`, "neither start nor terminate"},
		{"both", `{"start":{},"terminate":{}}`, "both start and terminate"},
		{"too big", `{"start":{"session_id":"` + strings.Repeat("a", api.MaxRequest) + `"}}`, "exceeds"},
		{"bad id", string(with(func(s *api.AgentStart) { s.SessionID = "a.b" })), "session id"},
		{"bad owner", string(with(func(s *api.AgentStart) { s.Owner = "*" })), "owner"},
		{"no subjects", string(with(func(s *api.AgentStart) { s.Subjects = api.Subjects{} })), "subjects.in: missing"},
		{"wildcard subject", string(with(func(s *api.AgentStart) { s.Subjects.Out = "tether.>" })), "subjects.out"},
		{"record input without rin", string(with(func(s *api.AgentStart) { s.RecordInput = true })), "subjects.rin: missing"},
		{"wildcard rin", string(with(func(s *api.AgentStart) { s.RecordInput, s.Subjects.Rin = true, "tether.s.*.rin" })), "subjects.rin"},
		{"rin is out", string(with(func(s *api.AgentStart) { s.RecordInput, s.Subjects.Rin = true, s.Subjects.Out })), "must differ from in, out and ctl"},
		{"bad run-as", string(with(func(s *api.AgentStart) { s.RunAs = "root:0" })), `run as "root:0": not a valid user name`},
		{"long run-as", string(with(func(s *api.AgentStart) { s.RunAs = strings.Repeat("a", 33) })), "not a valid user name"},
		{"negative idle", string(with(func(s *api.AgentStart) { s.IdleTimeout = api.Duration(-time.Second) })), "idle timeout -1s: must not be negative"},
		{"negative max", string(with(func(s *api.AgentStart) { s.MaxDuration = api.Duration(-time.Second) })), "max duration -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.control([]byte(tc.body))
			if r.OK || !strings.Contains(r.Error, tc.want) {
				t.Fatalf("reply %+v, want error containing %q", r, tc.want)
			}
		})
	}

	c := e.startSession("alice-dup", api.AgentStart{Command: []string{"sleep", "100"}})
	st := api.AgentStart{SessionID: c.id, Owner: "alice", Subjects: c.subj, Command: []string{"true"}}
	if r := e.controlJSON(api.AgentControl{Start: &st}); r.OK || !strings.Contains(r.Error, "already exists") {
		t.Fatalf("duplicate start: %+v", r)
	}
	// Malformed input frames are dropped; the first good one attaches.
	if err := e.nc.Publish(c.subj.In, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if err := e.nc.Publish(c.subj.In, frame.Encode(frame.Frame{Type: frame.Resize, Seq: 1, Payload: []byte{1}})); err != nil {
		t.Fatal(err)
	}
	c.seq = 1
	c.send(frame.Signal, []byte("KILL"))
	if st := c.waitExit(); st.Code != 128+9 {
		t.Fatalf("exit = %+v", st)
	}
}

func TestEnrollment(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "state")

	// Refused: nothing is written.
	e.cp.enrollErr = &api.Error{Code: api.CodeAccessDenied, Message: "activation expired"}
	a, err := agent.New(agent.Config{BrokerURL: e.url, StateDir: dir, ActivationID: "act1", ActivationCode: "code"})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "enrollment refused") || !strings.Contains(err.Error(), "activation expired") {
		t.Fatalf("Run = %v, want enrollment refused", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state dir written after a refused enrollment: %v", err)
	}

	// No key, no activation.
	a, _ = agent.New(agent.Config{BrokerURL: e.url, StateDir: dir})
	if err := a.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("Run without activation = %v", err)
	}

	e.cp.mu.Lock()
	e.cp.enrollErr = nil
	e.cp.mu.Unlock()
	_, stop := e.runAgent(agent.Config{StateDir: dir, ActivationID: "act1", ActivationCode: "code", Version: "1.2.3"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, agent.SeedFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed file: %v %v", fi, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, agent.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st agent.State
	if err := json.Unmarshal(b, &st); err != nil || st.InstanceID != instanceID || st.BrokerURL != e.url {
		t.Fatalf("agent.json = %s (%v)", b, err)
	}
	e.cp.mu.Lock()
	if len(e.cp.enrolls) != 2 || e.cp.enrolls[1].AgentVersion != "1.2.3" || e.cp.enrolls[1].Hostname == "" {
		t.Fatalf("enroll requests = %+v", e.cp.enrolls)
	}
	e.cp.mu.Unlock()

	// Second run: the key is used, no enrollment.
	e.runAgent(agent.Config{StateDir: dir, ActivationID: "act1", ActivationCode: "code"})
	e.cp.mu.Lock()
	defer e.cp.mu.Unlock()
	if len(e.cp.enrolls) != 2 {
		t.Fatalf("enrolled again: %d enroll requests", len(e.cp.enrolls))
	}
}

func TestReconnect(t *testing.T) {
	e := newEnv(t)
	e.runAgent(agent.Config{})
	c := e.startSession("alice-rc", api.AgentStart{Interactive: true})
	c.resync = true
	c.stdin("echo one-$((0+1))\n")
	c.waitOutput("one-1")
	e.cp.mu.Lock()
	before := len(e.cp.registers)
	e.cp.mu.Unlock()

	e.restart()
	r := e.cp.waitRegistered(t, before+1)
	if len(r.Sessions) != 1 || r.Sessions[0] != c.id {
		t.Fatalf("re-registration lists sessions %v, want [%s]", r.Sessions, c.id)
	}
	// The session survived; its client's subscriptions were re-established by nats.go.
	eventually(t, "client reconnected", e.nc.IsConnected)
	c.stdin("echo two-$((1+1))\n")
	c.waitOutput("two-2")
	c.stdin("exit\n")
	c.waitExit()
	e.cp.waitEnded(t, c.id)
}

func TestShutdown(t *testing.T) {
	e := newEnv(t)
	_, stop := e.runAgent(agent.Config{})
	c := e.startSession("alice-bye", api.AgentStart{Interactive: true})
	c.stdin("echo up-$((2+2))\n")
	c.waitOutput("up-4")
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	// Run returned after the session ended: its report is in already.
	e.cp.mu.Lock()
	ended, ok := e.cp.ended[c.id]
	e.cp.mu.Unlock()
	if !ok || ended.Reason != api.ReasonAgentShutdown {
		t.Fatalf("SessionEnded = %+v (%v)", ended, ok)
	}
	if st := c.waitExit(); st.Reason != api.ReasonAgentShutdown {
		t.Fatalf("exit = %+v", st)
	}
	if ended.OutFrames != uint64(len(c.frames)) {
		t.Fatalf("OutFrames %d, client saw %d", ended.OutFrames, len(c.frames))
	}
}
