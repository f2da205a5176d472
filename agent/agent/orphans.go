package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tetherhq/tether/agent/shell"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// A session's processes outlive an agent that dies without its shutdown path (kill -9, a
// crash, the OOM killer): they are no longer its children, and nothing ends them. So the
// agent keeps a record of each session's process in its state directory while the session
// runs, and a starting agent ends the processes of every record it finds: their sessions
// died with the agent before it (the control plane ends them as agent_restarted when the
// new agent registers without them).

// SessionsDir is the directory, in the state directory, of the records of the sessions'
// processes: <session id>.json, a processRecord.
const SessionsDir = "sessions"

// maxRecord bounds a record file; a real one is about 250 bytes.
const maxRecord = 4096

// maxPID is the kernel's largest pid_max (2^22).
const maxPID = 1 << 22

// processRecord names a session's process and what it may have left behind: its process
// group, and the session it leads for a TTY. The pid with its start time (and the boot)
// identifies the process across pid reuse.
type processRecord struct {
	SessionID string `json:"session_id"`
	PID       int    `json:"pid"`
	PGID      int    `json:"pgid"`          // the process's group: PID (it was started with Setpgid or Setsid)
	SID       int    `json:"sid,omitempty"` // PID when the process leads a session (a TTY), else 0
	// StartTime is /proc/<pid>/stat's field 22: clock ticks after boot.
	StartTime uint64    `json:"start_time"`
	BootID    string    `json:"boot_id,omitempty"` // /proc/sys/kernel/random/boot_id
	StartedAt time.Time `json:"started_at"`
}

var bootIDRE = regexp.MustCompile(`^[0-9a-f-]{1,64}$`)

// decodeRecord parses a record file. The files are the agent's own, but what a crash,
// a full disk or another hand left in them is checked as untrusted bytes: a record that
// passes names one session process's group and nothing else.
func decodeRecord(data []byte) (processRecord, error) {
	var r processRecord
	if err := api.Decode(data, &r, maxRecord); err != nil {
		return r, err
	}
	if err := subjects.ValidSessionID(r.SessionID); err != nil {
		return r, fmt.Errorf("session_id: %w", err)
	}
	switch {
	case r.PID <= 1 || r.PID > maxPID:
		return r, fmt.Errorf("pid %d: out of range", r.PID)
	case r.PGID != r.PID:
		return r, fmt.Errorf("pgid %d: must be the pid, %d", r.PGID, r.PID)
	case r.SID != 0 && r.SID != r.PID:
		return r, fmt.Errorf("sid %d: must be 0 or the pid, %d", r.SID, r.PID)
	case r.StartTime == 0:
		return r, errors.New("start_time: missing")
	case r.BootID != "" && !bootIDRE.MatchString(r.BootID):
		return r, fmt.Errorf("boot_id %.80q: not a boot id", r.BootID)
	case r.StartedAt.IsZero():
		return r, errors.New("started_at: missing")
	}
	return r, nil
}

var bootID = sync.OnceValue(shell.BootID)

// recordProcess records proc, session id's process, in the state directory and returns the
// function that removes the record: call it once proc.Wait has returned, when proc's group
// is gone.
func (a *Agent) recordProcess(id string, proc *shell.Process, log *slog.Logger) (forget func()) {
	if proc.StartTime() == 0 {
		return func() {} // no /proc: nothing a later agent could check the pid against
	}
	g := proc.Group()
	rec := processRecord{
		SessionID: id, PID: proc.Pid(), PGID: g.Pgid, SID: g.Sid,
		StartTime: proc.StartTime(), BootID: bootID(), StartedAt: time.Now().UTC(),
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	dir := filepath.Join(a.cfg.StateDir, SessionsDir)
	path := filepath.Join(dir, id+".json")
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = replaceFile(path, append(b, '\n'))
	}
	if err != nil {
		log.Warn("cannot record the session's process: should the agent crash, it would be left running", logkey.Err, err)
		return func() {}
	}
	return func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("remove the session's process record", logkey.Err, err)
		}
	}
}

// replaceFile writes data to a temporary file beside path and renames it into place. It
// does not sync: a record guards against the agent's crash, which loses nothing written,
// not the machine's, which ends the processes too (and changes the boot id); a sync would
// cost every session start milliseconds.
func replaceFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// reapOrphans ends the processes of the sessions an earlier agent on this state directory
// recorded and did not see end, and removes the records. Call it holding the state lock,
// before serving: no session of this agent has a record yet.
func (a *Agent) reapOrphans() { reapOrphans(a.cfg.StateDir, terminateGrace, a.log) }

// reapOrphans ends every recorded group at once, each given grace between SIGTERM and
// SIGKILL, and returns when all are gone.
func reapOrphans(stateDir string, grace time.Duration, log *slog.Logger) {
	dir := filepath.Join(stateDir, SessionsDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		log.Warn("read the sessions' process records", logkey.Err, err)
		return
	}
	var wg sync.WaitGroup
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp") {
			_ = os.Remove(path) // a write the crash interrupted: its process was never recorded
			continue
		}
		rec, err := readRecord(path)
		if err != nil {
			log.Warn("malformed session process record: removed", logkey.File, path, logkey.Err, err)
			if err := os.Remove(path); err != nil {
				log.Warn("remove the malformed record", logkey.File, path, logkey.Err, err)
			}
			continue
		}
		wg.Go(func() {
			reapOrphan(rec, grace, log.With(logkey.SessionID, rec.SessionID, logkey.PID, rec.PID))
			if err := os.Remove(path); err != nil {
				log.Warn("remove the session's process record", logkey.File, path, logkey.Err, err)
			}
		})
	}
	wg.Wait()
}

// readRecord reads and checks one record file, which must be a regular file named for its
// session.
func readRecord(path string) (processRecord, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return processRecord{}, err
	}
	if !fi.Mode().IsRegular() {
		return processRecord{}, fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return processRecord{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return processRecord{}, err
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return rec, err
	}
	if filepath.Base(path) != rec.SessionID+".json" {
		return rec, fmt.Errorf("record of session %s in a file named otherwise", rec.SessionID)
	}
	return rec, nil
}

// reapOrphan ends rec's group if it is still rec's: the recorded process runs with the
// recorded start time, or it is gone and its group or session lives on (a shell exited,
// its `sleep &` did not): the kernel reuses no id a group or session still has. A process
// of the recorded pid that started at another time is another process, and tells that
// rec's group was gone at some point (its id was free): nothing is signalled.
func reapOrphan(rec processRecord, grace time.Duration, log *slog.Logger) {
	if boot := bootID(); boot != "" && rec.BootID != "" && rec.BootID != boot {
		log.Debug("session process record from before the last boot")
		return
	}
	st, err := shell.ReadProc(rec.PID)
	switch {
	case err == nil && st.StartTime != rec.StartTime:
		log.Debug("orphaned session's process is gone: its pid is another process's now")
		return
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		log.Warn("cannot tell whether an orphaned session's process runs: left alone", logkey.Err, err)
		return
	}
	g := shell.Group{Pgid: rec.PGID, Sid: rec.SID}
	n, killed, err := g.End(grace)
	switch {
	case err != nil:
		log.Warn("orphaned session's processes left alone", logkey.Err, err)
	case n == 0:
		log.Debug("orphaned session's processes are gone")
	default:
		sig := "TERM"
		switch {
		case killed:
			sig = "KILL"
		case rec.SID != 0:
			sig = "HUP"
		}
		if left := g.Alive(); left > 0 {
			log.Warn("orphaned session's processes survived SIGKILL", logkey.Count, left)
		}
		log.Info("ended an orphaned session's processes", logkey.Count, n, logkey.Signal, sig)
	}
}
