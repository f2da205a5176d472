package shell

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"sync"
	"syscall"
	"time"
)

// Spec says what to start.
type Spec struct {
	// Command is the argv to execute directly (no shell). Empty means the login shell
	// (FindShell) started with -l.
	Command []string
	// TTY runs the process in a pseudo-terminal of Cols×Rows (default 80×24) with TERM set to
	// Term (default xterm-256color). Otherwise stdin, stdout and stderr are separate pipes.
	TTY        bool
	Cols, Rows uint16
	Term       string
	// Dir is the working directory; when empty, the home of User, or HomeDir().
	Dir string
	// Env is the environment; os.Environ() when nil.
	Env []string
	// User, when set, is the account the process runs as (see LookupAccount): its uid, gid
	// and groups, HOME, USER, LOGNAME and SHELL, and for a shell session its shell. The
	// terminal of a TTY process is given to it. Nil runs the process as the agent's user.
	User *Account
}

// Process is a started session process. Its methods are safe for concurrent use.
type Process struct {
	cmd    *exec.Cmd
	tty    *os.File // PTY master; nil for pipes
	stdin  *os.File // write end of the stdin pipe; nil for a PTY
	stdout *os.File
	stderr *os.File
	done   chan struct{}
	status Status
	start  uint64 // start time in clock ticks after boot; 0 when unknown

	mu          sync.Mutex
	stdinClosed bool
	closed      bool
}

// Start starts the process described by s. The process runs in its own process group (a
// new session with the PTY as controlling terminal, for TTY), which ends with it (see
// Wait).
func Start(s Spec) (*Process, error) {
	argv := s.Command
	env := s.Env
	if env == nil {
		env = os.Environ()
	}
	dir := s.Dir
	switch {
	case s.User != nil:
		if len(argv) == 0 {
			argv = []string{s.User.Shell, "-l"}
		}
		env = s.User.environ(env)
		if dir == "" {
			dir = s.User.dir()
		}
	case len(argv) == 0:
		sh, err := FindShell()
		if err != nil {
			return nil, err
		}
		argv = []string{sh, "-l"}
		env = envDefault(env, "SHELL", sh)
		env = envDefault(env, "HOME", HomeDir())
		if u, err := user.Current(); err == nil {
			env = envDefault(env, "USER", u.Username)
			env = envDefault(env, "LOGNAME", u.Username)
		}
	}
	if dir == "" {
		dir = HomeDir()
	}
	path, err := LookCommand(argv)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.User.credential()}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	if s.TTY {
		term := s.Term
		if term == "" {
			term = "xterm-256color"
		}
		cmd.Env = setEnv(env, "TERM", term)
		err = p.startTTY(s.Cols, s.Rows, cmd.SysProcAttr.Credential)
	} else {
		cmd.Env = env
		err = p.startPipes()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	// Not yet waited for, the process is in /proc even if it has exited already.
	if st, err := ReadProc(p.Pid()); err == nil {
		p.start = st.StartTime
	}
	go p.wait()
	return p, nil
}

func (p *Process) startPipes() error {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return err
	}
	outR, outW, err := pipe()
	if err != nil {
		closeAll()
		return err
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return err
	}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, errW
	p.cmd.SysProcAttr.Setpgid = true
	if err := p.cmd.Start(); err != nil {
		closeAll()
		return err
	}
	// The child holds its ends now; keeping ours open would hide EOF.
	inR.Close()
	outW.Close()
	errW.Close()
	p.stdin, p.stdout, p.stderr = inW, outR, errR
	return nil
}

func (p *Process) wait() {
	err := p.cmd.Wait()
	ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	p.status = statusOf(ws, err)
	// What the process left in its group (its session, for a TTY) ends with it: a
	// command's `sleep &`, a shell's background jobs.
	_, _, _ = p.Group().End(leftoverGrace)
	close(p.done)
}

// Pid returns the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// StartTime returns when the process started, in clock ticks after boot as /proc shows it
// (see ReadProc), or 0 when unknown.
func (p *Process) StartTime() uint64 { return p.start }

// Group returns the process's group: its process group, and its session for a TTY.
func (p *Process) Group() Group {
	g := Group{Pgid: p.Pid()}
	if p.tty != nil {
		g.Sid = p.Pid()
	}
	return g
}

// TTY reports whether the process runs in a pseudo-terminal.
func (p *Process) TTY() bool { return p.tty != nil }

// Stdout returns the process's output: the PTY master for a TTY, else the stdout pipe.
func (p *Process) Stdout() *os.File { return p.stdout }

// Stderr returns the stderr pipe, or nil for a TTY (whose output is all on Stdout).
func (p *Process) Stderr() *os.File { return p.stderr }

// Done is closed when the process has exited, and with it what it left in its group.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns how it ended. Once the process has
// exited, whatever it left in its group (see Group) gets SIGTERM (and SIGHUP, for a TTY),
// then SIGKILL after a grace of 2 s; Wait returns when they are gone too.
func (p *Process) Wait() Status {
	<-p.done
	return p.status
}

// Write writes b to the process's stdin (the PTY's input for a TTY).
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	closed := p.stdinClosed
	p.mu.Unlock()
	if closed {
		return 0, errors.New("stdin is closed")
	}
	if p.tty != nil {
		return p.tty.Write(b)
	}
	return p.stdin.Write(b)
}

// CloseStdin signals end of input: it closes the stdin pipe, or types the terminal's EOF
// character (Ctrl-D) into a PTY.
func (p *Process) CloseStdin() error {
	if p.tty != nil {
		_, err := p.tty.Write([]byte{0x04})
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdinClosed {
		return nil
	}
	p.stdinClosed = true
	return p.stdin.Close()
}

// Signal sends the named signal (see ParseSignal) to the process group: for a TTY, to the
// terminal's foreground process group, as a terminal would.
func (p *Process) Signal(name string) error {
	sig, err := ParseSignal(name)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		return errors.New("process has exited")
	default:
	}
	pgid := p.Pid()
	if p.tty != nil {
		if fg, err := p.foreground(); err == nil && fg > 0 {
			pgid = fg
		}
	}
	return syscall.Kill(-pgid, sig)
}

// Terminate sends SIGHUP to the process group (and to the terminal's foreground group),
// then SIGKILL if the process has not exited after grace. It returns once the process has
// exited.
func (p *Process) Terminate(grace time.Duration) {
	p.signalAll(syscall.SIGHUP)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	p.signalAll(syscall.SIGKILL)
	<-p.done
}

func (p *Process) signalAll(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	if p.tty != nil {
		if fg, err := p.foreground(); err == nil && fg > 0 && fg != p.Pid() {
			_ = syscall.Kill(-fg, sig)
		}
	}
	_ = syscall.Kill(-p.Pid(), sig)
}

// Close releases the process's descriptors; call it once its output has been drained.
func (p *Process) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.stdinClosed = true
	for _, f := range []*os.File{p.tty, p.stdin, p.stdout, p.stderr} {
		if f != nil {
			f.Close()
		}
	}
	return nil
}
