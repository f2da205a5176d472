// Package statelock makes a state directory one process's: a second tether-broker on a
// broker's state, or a second tether-agent on an agent's, refuses to start instead of
// taking over the first one's sessions, keys and recordings.
//
// The lock is flock(2) on a file named "lock" in the directory, held for the life of the
// process: the kernel releases it when the process exits however it exits (kill -9
// included), so a crash never leaves a stale lock behind. The file holds the holder's
// pid and program, for the message the second one prints.
package statelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File is the lock file's name inside a state directory.
const File = "lock"

// Lock is a held state-directory lock.
type Lock struct {
	f *os.File
}

// HeldError says another process holds the directory.
type HeldError struct {
	Dir    string
	Holder string // "tether-broker (pid 1234)", or "" when the file does not say
}

func (e *HeldError) Error() string {
	by := "another process"
	if e.Holder != "" {
		by = e.Holder
	}
	return fmt.Sprintf("state directory %s is in use by %s: stop it first, or give this one a --state-dir of its own", e.Dir, by)
}

// Acquire locks dir (creating it, 0700, if need be) for program, or returns a *HeldError
// at once when another process holds it.
func Acquire(dir, program string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, File)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Dir: dir, Holder: holder}
		}
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	// Ours now: say who holds it.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), program)), 0)
	}
	return &Lock{f: f}, nil
}

func readHolder(f *os.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	pid, program, ok := strings.Cut(strings.TrimSpace(string(b[:n])), " ")
	if _, err := strconv.Atoi(pid); !ok || err != nil || program == "" {
		return ""
	}
	return fmt.Sprintf("%.64s (pid %s)", program, pid)
}

// Release gives the directory up. The lock file stays: removing it would let a third
// process lock a new file while a second still waits on the old one.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
