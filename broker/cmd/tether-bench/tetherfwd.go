package main

// The Tether side of the forwarding section, in one place: tetherForward and
// tetherSSHProxy. Everything else in forward.go is the same for every way measured.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tetherForward returns a local address that forwards, through Tether, to dest (a
// 127.0.0.1:PORT destination in this process, on the machine the bench agent runs on),
// and a function that stops forwarding. It runs `tether forward bench 0:PORT` (the
// node's own loopback port PORT, a free local port) and reads the address from the line
// it prints: `Forwarding 127.0.0.1:NNNN -> bench:PORT`.
//
// To measure another way (cli/session.Run with Options.Forward in this process, say),
// change this function only. It reports errNotMeasured, never a figure, while the CLI
// this harness was built beside has no `forward` verb.
func tetherForward(ctx context.Context, bin string, t *tether, dest string) (string, func(), error) {
	if err := tetherReady(ctx, bin, t, "forward"); err != nil {
		return "", nil, err
	}
	_, port, err := net.SplitHostPort(dest)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(filepath.Join(t.bin, "tether"), "--config", t.cfgPath, "forward", benchTarget, "0:"+port)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.SysProcAttr = daemonAttr()
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start tether forward: %w", err)
	}
	waited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads after the first line: drop
			}
		}
		close(lines)
		waited <- cmd.Wait()
	}()
	t.forwardCLIs = append(t.forwardCLIs, cmd.Process.Pid)
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGINT) // as Ctrl-C: terminate the session, exit 0
		select {
		case <-waited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				stop()
				return "", nil, fmt.Errorf("tether forward %s 0:%s exited before forwarding: %s", benchTarget, port, stderr.String())
			}
			rest, found := strings.CutPrefix(line, "Forwarding ")
			local, _, arrow := strings.Cut(rest, " -> ")
			if !found || !arrow {
				continue
			}
			return local, stop, nil
		case <-timeout.C:
			stop()
			return "", nil, fmt.Errorf("tether forward %s 0:%s printed no Forwarding line in 30s; stderr: %s", benchTarget, port, stderr.String())
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		}
	}
}

// tetherSSHProxy returns the ProxyCommand that reaches the bench's sshd through Tether,
// and a function to call when done. scp is then run as `scp -o ProxyCommand=… -P PORT
// USER@bench:…`: ssh gives the command %h = bench (the target) and %p = the sshd's port
// on the node's loopback. It reports errNotMeasured while the CLI has no `ssh-proxy`.
func tetherSSHProxy(ctx context.Context, bin string, t *tether) (string, func(), error) {
	if err := tetherReady(ctx, bin, t, "ssh-proxy"); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%s --config %s ssh-proxy %%h %%p", filepath.Join(t.bin, "tether"), t.cfgPath), func() {}, nil
}

// tetherReady says why the CLI in bin cannot be measured with verb (errNotMeasured),
// or returns nil when it can and the broker and agent run.
func tetherReady(ctx context.Context, bin string, t *tether, verb string) error {
	switch {
	case !fileExists(filepath.Join(bin, "tether")):
		return notMeasured("no tether binaries in %s: run make build", bin)
	case !cliHasVerb(ctx, bin, verb):
		return notMeasured("`tether %s` is not in this build of the CLI", verb)
	case t == nil:
		return notMeasured("the broker and agent were not started")
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// cliHasVerb reports whether the CLI in bin has the verb (`tether VERB --help`
// succeeds; an unknown verb exits 2).
func cliHasVerb(ctx context.Context, bin, verb string) bool {
	return exec.CommandContext(ctx, filepath.Join(bin, "tether"), verb, "--help").Run() == nil
}
