package agent_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/agent/agentcmd"
	"github.com/tetherhq/tether/agent/shell"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// agentMainEnv makes the test binary tether-agent: a test runs a real agent process it can
// kill -9.
const agentMainEnv = "TETHER_TEST_AGENT_MAIN"

func init() {
	if os.Getenv(agentMainEnv) == "1" {
		os.Exit(agentcmd.Main(os.Args[1:]))
	}
}

// startAgentProcess runs tether-agent on state as a process of its own.
func (e *env) startAgentProcess(state string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], "--broker", e.url, "--state-dir", state, "--log-level", "debug")
	cmd.Env = append(os.Environ(), agentMainEnv+"=1")
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	e.cp.mu.Lock()
	before := len(e.cp.registers)
	e.cp.mu.Unlock()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	e.cp.waitRegistered(e.t, before+1)
	return cmd
}

// procInfo is a process as the test reads it from /proc, without the agent's code.
type procInfo struct {
	pid, pgid, sid int
	state          string
}

func processes(t *testing.T) []procInfo {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		pgid, _ := strconv.Atoi(f[2])
		sid, _ := strconv.Atoi(f[3])
		out = append(out, procInfo{pid: pid, pgid: pgid, sid: sid, state: f[0]})
	}
	return out
}

// sessionRecord is the part of <state>/sessions/<id>.json the test needs.
type sessionRecord struct {
	SessionID string `json:"session_id"`
	PID       int    `json:"pid"`
	PGID      int    `json:"pgid"`
	SID       int    `json:"sid"`
	StartTime uint64 `json:"start_time"`
}

func readSessionRecord(t *testing.T, state, id string) sessionRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, agent.SessionsDir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r sessionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.SessionID != id || r.PID <= 1 || r.PGID != r.PID || r.StartTime == 0 {
		t.Fatalf("record %s", b)
	}
	return r
}

// live lists the processes of r's group, or of its session when it leads one, that have not
// exited (a zombie, waiting for whoever inherited it to reap it, has).
func (r sessionRecord) live(t *testing.T) []int {
	t.Helper()
	var pids []int
	for _, p := range processes(t) {
		if p.state != "Z" && p.state != "X" && (p.pgid == r.PGID || (r.SID != 0 && p.sid == r.SID)) {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// syncBuffer is a log destination the agent writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An agent killed with SIGKILL leaves its sessions' processes running, HUP- and TERM-deaf
// ones included; the next agent on the state directory ends every one of them before it
// registers, and removes the records.
func TestCrashedAgentsProcessesAreReaped(t *testing.T) {
	e := newEnv(t)
	state := provision(t)
	old := e.startAgentProcess(state)

	// A command with pipes, whose background sleep outlives its shell's SIGTERM.
	cmd := e.startSession("alice-crash1", api.AgentStart{Command: []string{"sh", "-c", `trap "" HUP TERM; sleep 1000 & echo started; sleep 1000`}})
	cmd.send(frame.Keepalive, nil)
	cmd.waitOutput("started")
	// A login shell in a terminal, whose jobs run in process groups of their own.
	sh := e.startSession("alice-crash2", api.AgentStart{Interactive: true})
	sh.stdin(`sh -c 'trap "" HUP TERM; sleep 1000' & sleep 1001 & echo started-$((1+1))` + "\n")
	sh.waitOutput("started-2")

	recs := []sessionRecord{readSessionRecord(t, state, cmd.id), readSessionRecord(t, state, sh.id)}
	if recs[0].SID != 0 || recs[1].SID != recs[1].PID {
		t.Fatalf("records %+v: want the terminal's to name its session, the pipes' not", recs)
	}
	t.Cleanup(func() { // should the test fail before the reaping
		for _, r := range recs {
			_, _, _ = shell.Group{Pgid: r.PGID, Sid: r.SID}.End(0)
		}
	})
	polltest.Until(t, waitLong, "the sessions' processes", func() bool {
		return len(recs[0].live(t)) >= 2 && len(recs[1].live(t)) >= 4 // sh and 2 sleeps; the login shell, sh, 2 sleeps
	})
	var before []int
	for _, r := range recs {
		before = append(before, r.live(t)...)
	}

	if err := old.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = old.Wait()
	// Nothing ends what ignores SIGHUP and SIGTERM: the command's processes, and the
	// terminal's `sh` and its sleep, which the login shell's hangup does not reach.
	if n := len(recs[0].live(t)); n < 2 {
		t.Fatalf("after the crash, %d processes of the command run: the test proves nothing", n)
	}
	if n := len(recs[1].live(t)); n < 2 {
		t.Fatalf("after the crash, %d processes of the terminal run: the test proves nothing", n)
	}

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, stop := e.runAgent(agent.Config{StateDir: state, Logger: log}) // returns once registered
	for _, r := range recs {
		if pids := r.live(t); len(pids) > 0 {
			t.Errorf("session %s: processes %v outlived the new agent's start", r.SessionID, pids)
		}
	}
	for _, pid := range before {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b[bytes.LastIndexByte(b, ')'):]), ") Z") {
			t.Errorf("process %d runs: %s", pid, b)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(state, agent.SessionsDir)); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
	if r := e.cp.waitRegistered(t, 2); len(r.Sessions) != 0 {
		t.Errorf("the new agent registers sessions %v", r.Sessions)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if !strings.Contains(logs.String(), `msg="ended an orphaned session's processes" `+logkey.SessionID+"="+r.SessionID) {
			t.Errorf("no log of ending %s:\n%s", r.SessionID, logs)
		}
	}
}

// A command that exits leaving a process behind (`sleep &`, deaf to SIGHUP and SIGTERM):
// the process ends with the session, and the session's record goes.
func TestSessionEndsItsProcessGroup(t *testing.T) {
	e := newEnv(t)
	state := provision(t)
	e.runAgent(agent.Config{StateDir: state})
	c := e.startSession("alice-bg", api.AgentStart{Command: []string{"sh", "-c", `trap "" HUP TERM; sleep 1000 & echo pid=$!`}})
	c.send(frame.Keepalive, nil)
	c.waitOutput("\n")
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(c.text.String(), "pid=")))
	if err != nil {
		t.Fatalf("output %q", c.text.String())
	}
	t.Cleanup(func() {
		if st, err := shell.ReadProc(pid); err == nil && !st.Exited() {
			_, _, _ = shell.Group{Pgid: st.Pgid}.End(0)
		}
	})
	if st := c.waitExit(); st.Code != 0 {
		t.Fatalf("exit %+v", st)
	}
	// The Exit frame comes once the group is gone.
	if st, err := shell.ReadProc(pid); err == nil && !st.Exited() {
		t.Fatalf("background process %d outlived its session: %+v", pid, st)
	}
	e.cp.waitEnded(t, c.id)
	eventually(t, "the record's removal", func() bool {
		_, err := os.Stat(filepath.Join(state, agent.SessionsDir, c.id+".json"))
		return os.IsNotExist(err)
	})
}
