package shell

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// What a session's process leaves behind is found in /proc (Linux). Elsewhere nothing is
// found: no start time is known, and Group.End ends only the process group as kill(2)
// reaches it.

// leftoverGrace is how long what a process left in its group has to exit after SIGTERM
// (and SIGHUP, for a TTY) once the process itself has exited, before SIGKILL.
var leftoverGrace = 2 * time.Second

// pollEvery is how often End looks whether a group is gone; killWait bounds the wait for
// SIGKILLed processes to be gone (one in uninterruptible sleep goes when its I/O ends).
const (
	pollEvery = 20 * time.Millisecond
	killWait  = 5 * time.Second
)

// ProcState is what /proc/<pid>/stat says of a process.
type ProcState struct {
	State     byte   // R, S, D, Z, T, …; Z (zombie) and X (dead) have exited
	Pgid, Sid int    // process group and session
	StartTime uint64 // clock ticks after boot when it started (field 22): with the pid, it names one process
}

// Exited reports whether the process has exited and only waits to be reaped.
func (s ProcState) Exited() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// ReadProc reads /proc/<pid>/stat. Its error wraps fs.ErrNotExist when there is no such
// process.
func ReadProc(pid int) (ProcState, error) {
	if pid <= 0 {
		return ProcState{}, fmt.Errorf("pid %d: %w", pid, os.ErrNotExist)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, syscall.ESRCH) { // the process went between open and read
			err = fmt.Errorf("%w: %w", err, os.ErrNotExist)
		}
		return ProcState{}, err
	}
	return parseStat(b)
}

// parseStat parses a /proc/<pid>/stat line: "pid (comm) state ppid pgrp session tty_nr …
// starttime …". The command name may hold spaces and parentheses; it ends at the last ')'.
func parseStat(b []byte) (ProcState, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcState{}, errors.New("proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return ProcState{}, errors.New("proc stat: too few fields")
	}
	pgid, err1 := strconv.Atoi(f[2])
	sid, err2 := strconv.Atoi(f[3])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return ProcState{}, fmt.Errorf("proc stat: %w", err)
	}
	return ProcState{State: f[0][0], Pgid: pgid, Sid: sid, StartTime: start}, nil
}

// BootID is the kernel's boot id (/proc/sys/kernel/random/boot_id), "" when unknown. Start
// times count from boot: a (pid, start time) pair names one process only within one boot.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Group is the processes a session's process may leave behind: its process group and, for
// a process that leads a session of its own (a TTY session's shell), that session, whose
// jobs an interactive shell puts in groups of their own. The kernel does not give a new
// process an id still in use as a process group or session id, so while any process of
// the group or session lives, its id names it, whether or not its leader still runs.
// Processes that left both (a daemon that called setsid, or a command that made a group
// of its own in a pipes session) are not the group's.
type Group struct {
	Pgid int // process group id: the session process's pid
	Sid  int // session id: the session process's pid if it leads a session, else 0
}

// check refuses a group that would reach the caller itself, init, or everything.
func (g Group) check() error {
	switch {
	case g.Pgid <= 1:
		return fmt.Errorf("process group %d: not a session's", g.Pgid)
	case g.Sid != 0 && g.Sid <= 1:
		return fmt.Errorf("session %d: not a session's", g.Sid)
	case g.Sid != 0 && g.Sid != g.Pgid:
		return fmt.Errorf("session %d of process group %d: a session's process leads both", g.Sid, g.Pgid)
	case g.Pgid == os.Getpid() || g.Pgid == syscall.Getpgrp():
		return fmt.Errorf("process group %d is the agent's own", g.Pgid)
	}
	// getsid answers 0 when the agent's session leader is outside its pid namespace (a
	// container or sandbox started without a session of its own): no group of ours is it.
	if own, err := unix.Getsid(0); err == nil && own > 0 && (g.Pgid == own || g.Sid == own) {
		return fmt.Errorf("session %d is the agent's own", own)
	}
	return nil
}

// member is a live process of a group.
type member struct{ pid, pgid int }

// members lists the processes of g that have not exited: those in its process group, and
// those in its session if it has one. Without /proc it finds none.
func (g Group) members() []member {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []member
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, err := ReadProc(pid)
		if err != nil || st.Exited() {
			continue
		}
		if st.Pgid == g.Pgid || (g.Sid != 0 && st.Sid == g.Sid) {
			out = append(out, member{pid, st.Pgid})
		}
	}
	return out
}

// Alive reports how many processes of g have not exited.
func (g Group) Alive() int {
	if g.check() != nil {
		return 0
	}
	return len(g.members())
}

// signal sends sig to g's process group and to every other group of its session with a
// member in ms: kill(-pgid) reaches a whole group at once, and each process once.
func (g Group) signal(ms []member, sig syscall.Signal) {
	_ = syscall.Kill(-g.Pgid, sig)
	done := map[int]bool{g.Pgid: true}
	for _, m := range ms {
		if g.Sid != 0 && m.pgid > 1 && !done[m.pgid] {
			done[m.pgid] = true
			_ = syscall.Kill(-m.pgid, sig)
		}
	}
}

// End ends the processes of g: SIGHUP (when g has a session: a terminal's hangup), SIGTERM
// and SIGCONT (a stopped process acts on neither until continued), then, if any is left
// after grace, SIGKILL. It returns how many live processes g had, and whether SIGKILL was
// needed. It refuses (returning the error) a group that would reach the agent itself or
// init.
func (g Group) End(grace time.Duration) (n int, killed bool, err error) {
	if err := g.check(); err != nil {
		return 0, false, err
	}
	if g.Sid == 0 && errors.Is(syscall.Kill(-g.Pgid, 0), syscall.ESRCH) {
		return 0, false, nil // no such group: no need to look through /proc
	}
	ms := g.members()
	if len(ms) == 0 && syscall.Kill(-g.Pgid, 0) != nil {
		return 0, false, nil // nothing /proc shows (or no /proc), nothing kill(2) reaches
	}
	if g.Sid != 0 {
		g.signal(ms, syscall.SIGHUP)
	}
	g.signal(ms, syscall.SIGTERM)
	g.signal(ms, syscall.SIGCONT)
	if g.waitGone(grace) {
		return len(ms), false, nil
	}
	g.signal(g.members(), syscall.SIGKILL)
	g.waitGone(killWait)
	return len(ms), true, nil
}

// waitGone polls until g has no live process, at most d.
func (g Group) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if len(g.members()) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
}
