package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent/shell"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/polltest"
)

// writeRecord writes rec as the agent does, into stateDir.
func writeRecord(t *testing.T, stateDir string, rec processRecord) string {
	t.Helper()
	dir := filepath.Join(stateDir, SessionsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	path := filepath.Join(dir, rec.SessionID+".json")
	if err := replaceFile(path, b); err != nil {
		t.Fatal(err)
	}
	return path
}

func recordOf(t *testing.T, id string, pid int, tty bool) processRecord {
	t.Helper()
	st, err := shell.ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	rec := processRecord{SessionID: id, PID: pid, PGID: pid, StartTime: st.StartTime, BootID: bootID(), StartedAt: time.Now().UTC()}
	if tty {
		rec.SID = pid
	}
	return rec
}

// startGroup starts sh -c script as the leader of a process group of its own. Closing
// stdin ends a script's `read`.
func startGroup(t *testing.T, script string) (cmd *exec.Cmd, stdin io.Closer) {
	t.Helper()
	cmd = exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd, w
}

func bufLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func alive(pid int) bool {
	st, err := shell.ReadProc(pid)
	return err == nil && !st.Exited()
}

func assertRemoved(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s not removed: %v", filepath.Base(path), err)
	}
}

// A record whose pid now belongs to another process (same pid, another start time) names a
// group that was gone: the process is not signalled, the record is removed.
func TestReapSparesRecycledPid(t *testing.T) {
	cmd, _ := startGroup(t, "exec sleep 1000")
	pid := cmd.Process.Pid
	state := t.TempDir()
	rec := recordOf(t, "alice-recycled", pid, false)
	rec.StartTime++ // the recorded process started at another time: not this one
	path := writeRecord(t, state, rec)
	other := recordOf(t, "alice-earlier-boot", pid, false)
	other.BootID = "00000000-0000-0000-0000-000000000000"
	otherPath := writeRecord(t, state, other)

	log, buf := bufLogger()
	reapOrphans(state, 100*time.Millisecond, log)
	if !alive(pid) {
		t.Fatalf("unrelated process %d was killed:\n%s", pid, buf)
	}
	assertRemoved(t, path)
	assertRemoved(t, otherPath)
	if strings.Contains(buf.String(), "ended an orphaned") {
		t.Fatalf("reaped:\n%s", buf)
	}
}

// A group whose leader exited while its children live on (sh is gone, its sleeps, deaf to
// SIGHUP and SIGTERM, remain) is ended by its id, with SIGKILL after the grace.
func TestReapGroupWithoutLeader(t *testing.T) {
	cmd, stdin := startGroup(t, `trap "" HUP TERM; sleep 1000 >/dev/null 2>&1 & sleep 1001 >/dev/null 2>&1 & read x; exit 0`)
	leader := cmd.Process.Pid
	var members []int
	polltest.Until(t, 10*time.Second, "the sleeps", func() bool {
		members = groupMembers(leader)
		return len(members) == 3
	})
	state := t.TempDir()
	path := writeRecord(t, state, recordOf(t, "alice-leaderless", leader, false))
	// The leader exits and is reaped.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sh: %v", err)
	}
	if n := len(groupMembers(leader)); n != 2 {
		t.Fatalf("%d processes left in the group, want 2", n)
	}

	log, buf := bufLogger()
	start := time.Now()
	reapOrphans(state, 200*time.Millisecond, log)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("reaped in %v: SIGKILL before the grace", d)
	}
	for _, pid := range members {
		if alive(pid) {
			t.Errorf("process %d survived", pid)
		}
	}
	assertRemoved(t, path)
	out := buf.String()
	if !strings.Contains(out, "ended an orphaned session's processes") || !strings.Contains(out, logkey.SessionID+"=alice-leaderless") ||
		!strings.Contains(out, logkey.Count+"=2") || !strings.Contains(out, logkey.Signal+"=KILL") {
		t.Fatalf("log:\n%s", out)
	}
}

// A live leader with the recorded start time: its whole group ends, SIGTERM sufficing.
func TestReapLiveGroup(t *testing.T) {
	cmd, _ := startGroup(t, `sleep 1000 & sleep 1000`)
	leader := cmd.Process.Pid
	polltest.Until(t, 10*time.Second, "the sleeps", func() bool { return len(groupMembers(leader)) == 3 })
	state := t.TempDir()
	path := writeRecord(t, state, recordOf(t, "alice-live", leader, false))
	log, buf := bufLogger()
	reapOrphans(state, 5*time.Second, log)
	if n := len(groupMembers(leader)); n != 0 {
		t.Fatalf("%d processes left", n)
	}
	assertRemoved(t, path)
	if !strings.Contains(buf.String(), logkey.Signal+"=TERM") {
		t.Fatalf("log:\n%s", buf)
	}
}

func TestReapMalformed(t *testing.T) {
	state := t.TempDir()
	dir := filepath.Join(state, SessionsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	good := processRecord{SessionID: "alice-1", PID: 4000, PGID: 4000, StartTime: 1, StartedAt: time.Now()}
	b, _ := json.Marshal(good)
	files := map[string]string{
		"garbage.json":      "\x00{not json",
		"alice-2.json":      string(b), // another session's record
		"alice-3.json":      `{"session_id":"alice-3","pid":1,"pgid":1,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`,
		".alice-4.json.tmp": "{",
		"huge.json":         strings.Repeat(" ", maxRecord+1),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	log, buf := bufLogger()
	reapOrphans(state, time.Second, log)
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Fatalf("left %v", left)
	}
	if n := strings.Count(buf.String(), "malformed session process record: removed"); n != 5 {
		t.Fatalf("%d malformed records logged, want 5:\n%s", n, buf)
	}
	// No directory: nothing to do, nothing created.
	empty := filepath.Join(t.TempDir(), "none")
	reapOrphans(empty, time.Second, log)
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatal("reapOrphans created the state directory")
	}
}

func TestDecodeRecord(t *testing.T) {
	ok := `{"session_id":"alice-1","pid":4000,"pgid":4000,"sid":4000,"start_time":12345,"boot_id":"0b4c2e63-5e6a-4bb5-9d1c-3a07c1c3d1f9","started_at":"2026-01-01T00:00:00Z"}`
	if r, err := decodeRecord([]byte(ok)); err != nil || r.SID != 4000 || r.StartTime != 12345 {
		t.Fatalf("decode = %+v, %v", r, err)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"session_id":"alice-1","pid":4000,"pgid":4001,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`, "pgid 4001"},
		{`{"session_id":"alice-1","pid":4000,"pgid":4000,"sid":5,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`, "sid 5"},
		{`{"session_id":"alice-1","pid":-4000,"pgid":-4000,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`, "out of range"},
		{`{"session_id":"alice-1","pid":4000,"pgid":4000,"started_at":"2026-01-01T00:00:00Z"}`, "start_time"},
		{`{"session_id":"alice-1","pid":4000,"pgid":4000,"start_time":1}`, "started_at"},
		{`{"session_id":"../x","pid":4000,"pgid":4000,"start_time":1,"started_at":"2026-01-01T00:00:00Z"}`, "session_id"},
		{`{"session_id":"alice-1","pid":4000,"pgid":4000,"start_time":1,"boot_id":"x y","started_at":"2026-01-01T00:00:00Z"}`, "boot_id"},
		{`{"session_id":"alice-1","pid":4000,"pgid":4000,"start_time":1,"started_at":"2026-01-01T00:00:00Z","x":1}`, "unknown field"},
		{`null`, "session_id"},
	} {
		if _, err := decodeRecord([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decode %s = %v, want %q", tc.body, err, tc.want)
		}
	}
}

// groupMembers lists the live processes of process group pgid, from /proc.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := shell.ReadProc(pid); err == nil && !st.Exited() && st.Pgid == pgid {
			out = append(out, pid)
		}
	}
	return out
}
