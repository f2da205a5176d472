package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

type percentiles struct{ p50, p90, p99 float64 }

// percentile is the nearest-rank percentile p (0-100) of vals.
func percentile(vals []float64, p float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func summarize(vals []float64) percentiles {
	return percentiles{percentile(vals, 50), percentile(vals, 90), percentile(vals, 99)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// mbps is bytes per second in MB (10^6 bytes), as perf-anchors counts them.
func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

// writeRandomFile writes size bytes of pseudo-random data (incompressible, not zeros).
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{'t', 'e', 't', 'h', 'e', 'r'})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		b := buf[:min(int64(len(buf)), left)]
		_, _ = rng.Read(b)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dialOnce succeeds if something accepts a TCP connection at addr.
func dialOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// counter counts the bytes written to it.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// proc is a long-running subprocess (broker, agent, sshd) with its output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProc(name, logPath string, argv ...string) (*proc, error) {
	return startProcEnv(name, logPath, nil, argv...)
}

// startProcEnv is startProc with env added to the harness's environment.
func startProcEnv(name, logPath string, env []string, argv ...string) (*proc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = daemonAttr() // own process group: Ctrl-C reaches only the harness
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// exited returns an error with the end of the log if the process has exited.
func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); end of its log:\n%s", p.name, p.err, p.tail())
	default:
		return nil
	}
}

func (p *proc) tail() string {
	data, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return "  " + strings.Join(lines[max(0, len(lines)-15):], "\n  ")
}

// stop sends SIGTERM and waits, killing after 15 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: %s did not stop in 15s; killing it\n", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuSeconds is the user+system CPU time of a process, from /proc (0 elsewhere).
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ is 100 on Linux
}

func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// chanWriter hands every Write to a channel, for the echo measurements.
type chanWriter chan []byte

func (c chanWriter) Write(p []byte) (int, error) {
	c <- bytes.Clone(p)
	return len(p), nil
}

// echo drives a terminal whose remote side runs `stty raw -echo; exec cat`: every byte
// written comes back exactly once, and nothing else does.
type echo struct {
	w       io.Writer
	out     <-chan []byte
	pending []byte
}

const readyCmd = "stty raw -echo; echo RE''ADY; exec cat\n"

// next returns the next output byte.
func (e *echo) next(timeout *time.Timer) (byte, error) {
	for len(e.pending) == 0 {
		select {
		case p, ok := <-e.out:
			if !ok {
				return 0, errors.New("output ended")
			}
			e.pending = p
		case <-timeout.C:
			return 0, errors.New("timed out waiting for output")
		}
	}
	b := e.pending[0]
	e.pending = e.pending[1:]
	return b, nil
}

// waitFor reads output until it has seen s.
func (e *echo) waitFor(s string, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	var seen []byte
	for !bytes.HasSuffix(seen, []byte(s)) {
		b, err := e.next(t)
		if err != nil {
			return fmt.Errorf("waiting for %q: %w (last output %q)", s, err, tailBytes(seen, 200))
		}
		seen = append(seen, b)
	}
	return nil
}

func tailBytes(b []byte, n int) []byte { return b[max(0, len(b)-n):] }

// ready waits for READY, then syncs: the marker's echo is the last thing not ours.
func (e *echo) ready() error {
	if err := e.waitFor("READY", 20*time.Second); err != nil {
		return err
	}
	if _, err := io.WriteString(e.w, "SYNC-8e1f"); err != nil {
		return err
	}
	return e.waitFor("SYNC-8e1f", 10*time.Second)
}

// measure makes n one-byte round trips (after 50 unmeasured ones), in µs.
func (e *echo) measure(ctx context.Context, n int) (percentiles, error) {
	rtts := make([]float64, 0, n)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	buf := []byte{0}
	for i := -50; i < n; i++ {
		if i%100 == 0 && ctx.Err() != nil {
			return percentiles{}, ctx.Err()
		}
		buf[0] = 'a' + byte((i+50)%26)
		t.Reset(10 * time.Second)
		t0 := time.Now()
		if _, err := e.w.Write(buf); err != nil {
			return percentiles{}, fmt.Errorf("round trip %d: write: %w", i, err)
		}
		b, err := e.next(t)
		d := time.Since(t0)
		if err != nil {
			return percentiles{}, fmt.Errorf("round trip %d: %w", i, err)
		}
		if b != buf[0] {
			return percentiles{}, fmt.Errorf("round trip %d: sent %q, got %q", i, buf[0], b)
		}
		if i >= 0 {
			rtts = append(rtts, us(d))
		}
	}
	return summarize(rtts), nil
}

// ptyEcho runs cmd (a terminal client) in a raw 80x24 PTY and measures n round trips
// through it; send, if set, is typed first (for a client that opens a shell).
func ptyEcho(ctx context.Context, cmd *exec.Cmd, send string, n int) (percentiles, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return percentiles{}, err
	}
	defer ptmx.Close()
	_ = pty.Setsize(ptmx, &pty.Winsize{Cols: 80, Rows: 24})
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		tty.Close()
		return percentiles{}, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	err = cmd.Start()
	tty.Close()
	if err != nil {
		return percentiles{}, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	}()
	out, stop := make(chan []byte, 1024), make(chan struct{})
	defer close(stop)
	go func() {
		defer close(out)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				select {
				case out <- bytes.Clone(buf[:n]):
				case <-stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	e := &echo{w: ptmx, out: out}
	if send != "" {
		if _, err := io.WriteString(ptmx, send); err != nil {
			return percentiles{}, err
		}
	}
	if err := e.ready(); err != nil {
		return percentiles{}, err
	}
	return e.measure(ctx, n)
}
