package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tetherhq/tether/streams/polltest"
)

func TestParseStat(t *testing.T) {
	line := "4242 (a (b)) c) S 1 4242 4240 34817 4242 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st != (ProcState{State: 'S', Pgid: 4242, Sid: 4240, StartTime: 987654}) {
		t.Fatalf("parseStat = %+v", st)
	}
	for _, bad := range []string{"", "12 (x", "12 (x) S 1 2", "12 (x) S 1 a 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "12 (x) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	self, err := ReadProc(os.Getpid())
	if err != nil || self.StartTime == 0 || self.Pgid != syscall.Getpgrp() {
		t.Fatalf("ReadProc(self) = %+v, %v", self, err)
	}
	if _, err := ReadProc(maxTestPID + 1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadProc(no such pid) = %v, want fs.ErrNotExist", err)
	}
	if BootID() == "" {
		t.Error("no boot id")
	}
}

// maxTestPID is above any pid_max.
const maxTestPID = 1 << 22

// gone reports whether pid has exited (a zombie that its new parent has not reaped yet has).
func gone(pid int) bool {
	st, err := ReadProc(pid)
	return err != nil || st.Exited()
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	if err := polltest.Wait(10*time.Second, func() error {
		if !gone(pid) {
			return fmt.Errorf("process %d still runs", pid)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// readPids reads the first line of r as pids.
func readPids(t *testing.T, r *bufio.Reader) []int {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read pids: %v (%q)", err, line)
	}
	var pids []int
	for _, f := range strings.Fields(line) {
		n, err := strconv.Atoi(strings.TrimPrefix(f, "pid="))
		if err != nil {
			continue
		}
		pids = append(pids, n)
	}
	if len(pids) == 0 {
		t.Fatalf("no pid in %q", line)
	}
	return pids
}

func shortGrace(t *testing.T) {
	old := leftoverGrace
	leftoverGrace = 200 * time.Millisecond
	t.Cleanup(func() { leftoverGrace = old })
}

// A command's background process, deaf to SIGHUP and SIGTERM, ends when the command does.
func TestPipesProcessEndsItsGroup(t *testing.T) {
	shortGrace(t)
	p, err := Start(Spec{Command: []string{"sh", "-c", `trap "" HUP TERM; sleep 1000 & echo pid=$!`}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.StartTime() == 0 || p.Group() != (Group{Pgid: p.Pid()}) {
		t.Fatalf("start time %d, group %+v", p.StartTime(), p.Group())
	}
	bg := readPids(t, bufio.NewReader(p.Stdout()))[0]
	start := time.Now()
	p.Wait()
	if !gone(bg) {
		t.Fatalf("background process %d outlived Wait", bg)
	}
	if d := time.Since(start); d < leftoverGrace {
		t.Errorf("SIGKILL after %v, before the grace", d)
	}
}

// In a terminal, a shell with job control runs each job in a process group of its own; the
// jobs are still in the shell's session, and end with it.
func TestTTYProcessEndsItsSession(t *testing.T) {
	shortGrace(t)
	p, err := Start(Spec{Command: []string{"sh", "-c", `set -m; sleep 1000 & echo pid=$! sh=$$; sleep 0.2`}, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Group() != (Group{Pgid: p.Pid(), Sid: p.Pid()}) {
		t.Fatalf("group %+v", p.Group())
	}
	bg := readPids(t, bufio.NewReader(p.Stdout()))[0]
	st, err := ReadProc(bg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pgid == p.Pid() || st.Sid != p.Pid() {
		t.Fatalf("background job %d: %+v, want a group of its own in session %d", bg, st, p.Pid())
	}
	p.Wait()
	if !gone(bg) {
		t.Fatalf("background job %d outlived Wait", bg)
	}
}

// A group whose leader has exited (here not even the agent's child: reparented) is still
// found by its id and ended; SIGKILL comes after the grace for what ignores SIGTERM.
func TestEndGroupWithoutLeader(t *testing.T) {
	cmd := exec.Command("sh", "-c", `trap "" HUP TERM; sleep 1000 >/dev/null 2>&1 & sleep 1001 >/dev/null 2>&1 & echo $!`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	leader := cmd.Process.Pid
	member, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	g := Group{Pgid: leader}
	if !gone(leader) || g.Alive() != 2 {
		t.Fatalf("leader gone %v, %d alive, want 2", gone(leader), g.Alive())
	}
	start := time.Now()
	n, killed, err := g.End(300 * time.Millisecond)
	if err != nil || n != 2 || !killed {
		t.Fatalf("End = %d, %v, %v; want 2, killed", n, killed, err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("killed before the grace")
	}
	waitGone(t, member)
	if g.Alive() != 0 {
		t.Fatal("processes left")
	}
	// Gone already: nothing to do.
	if n, _, err := g.End(time.Second); n != 0 || err != nil {
		t.Fatalf("End again = %d, %v", n, err)
	}
}

func TestEndRefusesOwnGroup(t *testing.T) {
	sid, _ := unix.Getsid(0)
	for _, g := range []Group{{Pgid: 0}, {Pgid: 1}, {Pgid: syscall.Getpgrp()}, {Pgid: os.Getpid()}, {Pgid: sid}, {Pgid: 5000, Sid: 4000}, {Pgid: 5000, Sid: 1}} {
		if _, _, err := g.End(time.Millisecond); err == nil {
			t.Errorf("End(%+v) accepted", g)
		}
	}
}

// In a pid namespace whose session leader is outside it (a sandbox or container started by
// unshare without setsid), getsid answers 0, and so does /proc for every process's session:
// the groups are still the agent's to end. The test runs this package's reaping tests again
// in such a namespace.
func TestReapInPIDNamespaceWithoutSession(t *testing.T) {
	if os.Getenv("TETHER_IN_PIDNS") != "" {
		sid, err := unix.Getsid(0)
		if err != nil || sid != 0 {
			t.Fatalf("getsid = %d, %v; want 0 in the namespace", sid, err)
		}
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to make a pid namespace")
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("this sandbox makes no pid namespace: %v: %s", err, out)
	}
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", os.Args[0],
		"-test.run", "^(TestReapInPIDNamespaceWithoutSession|TestPipesProcessEndsItsGroup|TestEndGroupWithoutLeader|TestTTYProcessEndsItsSession)$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "TETHER_IN_PIDNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a pid namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestEndGroupWithoutLeader") {
		t.Fatalf("the reaping tests did not run in the namespace:\n%s", out)
	}
}
