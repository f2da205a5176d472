package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const sshdPath = "/usr/sbin/sshd"

// sshMissing says why live ssh cannot be measured, or "".
func sshMissing() string {
	if _, err := os.Stat(sshdPath); err != nil {
		return sshdPath + " not found"
	}
	for _, b := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(b); err != nil {
			return b + " not found"
		}
	}
	return ""
}

// sshEnv is a temporary sshd on 127.0.0.1 and the client options to reach it.
type sshEnv struct {
	dir, key, user, ctlPath string
	port                    int
}

func startSSH(ctx context.Context, dir string, cl *cleanups) (*sshEnv, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	s := &sshEnv{dir: dir, key: filepath.Join(dir, "client_key"), user: u.Username, ctlPath: filepath.Join(dir, "ctl")}
	hostKey := filepath.Join(dir, "host_key")
	for _, k := range []string{hostKey, s.key} {
		if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pubKey, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		return nil, err
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, pubKey, 0o600); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 { // sshd running as root wants its privilege separation directory
		if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
			if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
				return nil, err
			}
		}
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s
AuthorizedKeysFile %s
PidFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PrintMotd no
PrintLastLog no
UseDNS no
AcceptEnv SHLVL
AllowTcpForwarding yes
Subsystem sftp internal-sftp
`, s.port, hostKey, authKeys, filepath.Join(dir, "sshd.pid"))), 0o600); err != nil {
		return nil, err
	}
	sshd, err := startProc("sshd", filepath.Join(dir, "sshd.log"), sshdPath, "-D", "-e", "-f", conf)
	if err != nil {
		return nil, err
	}
	cl.add(sshd.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := sshd.exited(); err != nil {
			return nil, err
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("sshd not listening: %v; end of its log:\n%s", err, sshd.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := s.command(ctx, "true").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ssh true: %v: %s; end of the sshd log:\n%s", err, out, sshd.tail())
	}
	// A ControlMaster for the reused-connection start latency.
	master, err := startProc("ssh ControlMaster", filepath.Join(dir, "master.log"),
		append([]string{"ssh"}, s.args("-M", "-S", s.ctlPath, "-N")...)...)
	if err != nil {
		return nil, err
	}
	cl.add(master.stop)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if exec.CommandContext(ctx, "ssh", s.args("-S", s.ctlPath, "-O", "check")...).Run() == nil {
			break
		}
		if err := master.exited(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("ssh ControlMaster not ready; end of its log:\n%s", master.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

// args are the ssh client arguments: extra options, then the destination. SHLVL=1 (let
// through by AcceptEnv) keeps bash from sourcing ~/.bashrc for the remote command, as it
// does for commands run by sshd at shell level 1: the agent runs commands without a
// shell, and rc files (pyenv init, say) would otherwise dominate the start latency.
func (s *sshEnv) args(extra ...string) []string {
	a := append(s.opts(), "-p", fmt.Sprint(s.port))
	return append(append(a, extra...), s.user+"@127.0.0.1")
}

// opts are the options ssh and scp share: no port (ssh spells it -p, scp -P), no destination.
func (s *sshEnv) opts() []string {
	return []string{"-F", "/dev/null", "-i", s.key, "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "BatchMode=yes", "-c", "aes128-gcm@openssh.com", "-o", "SetEnv=SHLVL=1"}
}

// forward runs `ssh -N -L 127.0.0.1:FREE:dest` and returns the local address once it
// accepts connections, and a function that stops it. logDir holds its log.
func (s *sshEnv) forward(ctx context.Context, logDir, dest string) (string, func(), error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		local := fmt.Sprintf("127.0.0.1:%d", port)
		p, err := startProc("ssh -L "+local+":"+dest, filepath.Join(logDir, fmt.Sprintf("ssh-L-%d.log", port)),
			append([]string{"ssh"}, s.args("-N", "-o", "ExitOnForwardFailure=yes", "-L", local+":"+dest)...)...)
		if err != nil {
			return "", nil, err
		}
		err = waitDial(ctx, local, 20*time.Second, p.exited)
		if err == nil {
			return local, p.stop, nil
		}
		p.stop()
		if attempt == 3 || !strings.Contains(p.tail(), "ddress already in use") {
			return "", nil, err
		}
	}
}

// scp copies file to the sshd's machine (up) or from it, into dir, straight or through
// proxy (a ProxyCommand, reached as USER@bench), checks the copy's size, and returns MB/s.
func (s *sshEnv) scp(ctx context.Context, dir, file, proxy string, up bool) (float64, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	host := "127.0.0.1"
	a := append(s.opts(), "-P", fmt.Sprint(s.port))
	if proxy != "" {
		host = benchTarget
		a = append(a, "-o", "ProxyCommand="+proxy)
	}
	dst := filepath.Join(dir, "scp-dst.bin")
	defer os.Remove(dst)
	if up {
		a = append(a, file, s.user+"@"+host+":"+dst)
	} else {
		a = append(a, s.user+"@"+host+":"+file, dst)
	}
	cmd := exec.CommandContext(ctx, "scp", a...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("scp: %v: %s", err, out)
	}
	got, err := os.Stat(dst)
	if err != nil {
		return 0, fmt.Errorf("scp: the copy: %w", err)
	}
	if got.Size() != fi.Size() {
		return 0, fmt.Errorf("scp: copied %d bytes, want %d", got.Size(), fi.Size())
	}
	return mbps(fi.Size(), d), nil
}

func (s *sshEnv) command(ctx context.Context, remote string, extra ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ssh", append(s.args(extra...), remote)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	return cmd
}

// startLatency times `ssh … true`, on a new connection or through the ControlMaster, ms.
func (s *sshEnv) startLatency(ctx context.Context, n int, mux bool) (percentiles, error) {
	var extra []string
	if mux {
		extra = []string{"-S", s.ctlPath}
	}
	var vals []float64
	for i := -2; i < n; i++ {
		cmd := s.command(ctx, "true", extra...)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			return percentiles{}, fmt.Errorf("run %d: ssh true: %v: %s", i, err, out)
		}
		if i >= 0 {
			vals = append(vals, ms(d))
		}
	}
	return summarize(vals), nil
}

// throughput runs `ssh … ARGV` (new connection), checks the byte count, returns MB/s.
func (s *sshEnv) throughput(ctx context.Context, argv []string, want int64) (float64, error) {
	cmd := s.command(ctx, strings.Join(argv, " "))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	r, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var c counter
	_, cerr := io.CopyBuffer(&c, r, make([]byte, 256<<10))
	werr := cmd.Wait()
	d := time.Since(t0)
	switch {
	case werr != nil:
		return 0, fmt.Errorf("ssh %s: %v: %s", strings.Join(argv, " "), werr, stderr.String())
	case cerr != nil:
		return 0, cerr
	case c.n.Load() != want:
		return 0, fmt.Errorf("ssh %s: received %d bytes, want %d", strings.Join(argv, " "), c.n.Load(), want)
	}
	return mbps(want, d), nil
}

// echoRTT measures keystroke round trips through `ssh -tt … 'stty raw -echo; exec cat'`
// running in a PTY, in µs.
func (s *sshEnv) echoRTT(ctx context.Context, n int) (percentiles, error) {
	cmd := exec.Command("ssh", append(s.args("-tt"), strings.TrimSuffix(readyCmd, "\n"))...)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	return ptyEcho(ctx, cmd, "", n)
}

// tcpProxyEnv, set in a process's environment to host:port, makes it the scp section's
// plain ProxyCommand (runTCPProxy).
const tcpProxyEnv = "TETHER_BENCH_TCP_PROXY"

// maybeTCPProxy runs this process as a plain ProxyCommand and exits, when $TETHER_BENCH_TCP_PROXY
// says so.
func maybeTCPProxy() {
	addr := os.Getenv(tcpProxyEnv)
	if addr == "" {
		return
	}
	if err := runTCPProxy(addr); err != nil {
		fmt.Fprintf(os.Stderr, "tether-bench tcp proxy to %s: %v\n", addr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runTCPProxy is the scp section's plain ProxyCommand: stdin to addr, addr to stdout, as
// nc would, with nothing tuned.
func runTCPProxy(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() {
		if _, err := io.Copy(c, os.Stdin); err == nil {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	// sshd's side closing is the connection's end.
	_, err = io.Copy(os.Stdout, c)
	return err
}
