package statelock

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/polltest"
)

func TestSecondHolderIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "tether-broker dev")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description: a second open in this process
	// conflicts as another process's would.
	_, err = Acquire(dir, "tether-broker")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want a HeldError", err)
	}
	want := "state directory " + dir + " is in use by tether-broker dev (pid "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "--state-dir") {
		t.Errorf("message %q, want it to start %q and name --state-dir", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir, "tether-broker")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// TestKilledHolderLeavesNoStaleLock: a holder killed with SIGKILL releases the lock with
// its life (a flock held by a child sleep process that inherits the descriptor).
func TestKilledHolderLeavesNoStaleLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "tether-agent")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	cmd.ExtraFiles = []*os.File{l.f} // the child shares the lock
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if _, err := Acquire(dir, "tether-agent"); err == nil {
		t.Fatal("the child's descriptor should still hold the lock")
	}
	cmd.Process.Kill()
	cmd.Wait()
	err = polltest.Wait(5*time.Second, func() error {
		l, err := Acquire(dir, "tether-agent")
		if err == nil {
			l.Release()
		}
		return err
	})
	if err != nil {
		t.Fatalf("lock still held after its holder was killed: %v", err)
	}
}
