package peertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/polltest"
)

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// process is a server process of a test, with its output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stopSig os.Signal
	done    chan struct{} // closed when the process has exited
	err     error         // cmd.Wait's, set before done is closed
}

// startProcess starts cmd with its output appended to logPath. stopSig is what asks it
// to stop (SIGKILL follows after stopTimeout).
func startProcess(name string, cmd *exec.Cmd, logPath string, stopSig os.Signal) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the process has its own descriptor
	fmt.Fprintf(log, "--- %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // a Ctrl-C at the terminal reaches the test, which stops it
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, stopSig: stopSig, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited returns an error with the end of the log once the process has exited.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); end of its log:\n%s", p.name, p.err, logTail(p.logPath))
	default:
		return nil
	}
}

// waitReady polls ready until it succeeds, the process exits, or startTimeout passes.
func (p *process) waitReady(ready func() error) error {
	var exitErr error
	err := polltest.Wait(startTimeout, func() error {
		if exitErr = p.exited(); exitErr != nil {
			return nil
		}
		return ready()
	})
	switch {
	case exitErr != nil:
		return exitErr
	case err != nil:
		return fmt.Errorf("%s not ready after %v: %w; end of its log:\n%s", p.name, startTimeout, err, logTail(p.logPath))
	}
	return nil
}

// stop asks the process to stop and waits, killing it after stopTimeout; then kills
// whatever is left in its process group. Idempotent.
func (p *process) stop() {
	defer func() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(p.stopSig)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// logTail is the last lines of a log file.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return "  " + strings.Join(lines[max(0, len(lines)-20):], "\n  ")
}

// retryPort runs start with a fresh free port until it succeeds, a few times when another
// process took the port first (the log says so), as the port is free only when chosen.
func retryPort(t testing.TB, what string, start func(port int) (string, error)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		logPath, err := start(freePort(t))
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(logTail(logPath), "already in use") {
			t.Fatalf("start %s: %v", what, err)
		}
		t.Logf("start %s: port taken, trying another: %v", what, err)
	}
}

// freePort is a TCP port free on 127.0.0.1 when chosen.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := listenLoopback()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return portOf(l.Addr().String())
}

// Run runs argv (ssh, scp, rsync, psql … as built by this package) within a few minutes
// and returns its combined output, failing t with that output when it fails.
func Run(t testing.TB, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}
