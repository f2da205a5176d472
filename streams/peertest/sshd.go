package peertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// SSHDPath is where Debian's openssh-server installs the daemon.
const SSHDPath = "/usr/sbin/sshd"

// SSHD is a real OpenSSH server on 127.0.0.1, with its own host key and configuration,
// running as the test's user and accepting one generated client key.
type SSHD struct {
	Addr string // 127.0.0.1:PORT
	Port int
	User string // the user to log in as: the test's own
	Key  string // the client's private key (ed25519, no passphrase)
	Dir  string // configuration, keys, pid file and log (sshd.log)

	proc *process
}

// StartSSHD starts /usr/sbin/sshd on a free loopback port, as the current user (root or
// not), with `UsePAM no`, `StrictModes no`, key authentication only, SFTP (internal-sftp,
// which scp uses) and TCP forwarding allowed, and waits until `ssh true` works. Stopped by
// t.Cleanup; its log is shown when the test fails.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	sshd := Need(t, "sshd", "openssh-server", SSHDPath)
	keygen := Need(t, "ssh-keygen", "openssh-client")
	Need(t, "ssh", "openssh-client")
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshd: current user: %v", err)
	}
	dir := t.TempDir()
	s := &SSHD{User: u.Username, Key: filepath.Join(dir, "client_key"), Dir: dir}
	hostKey := filepath.Join(dir, "host_key")
	for _, k := range []string{hostKey, s.Key} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "tether-test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -f %s: %v: %s", k, err, out)
		}
	}
	pub, err := os.ReadFile(s.Key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root wants its privilege separation directory (Debian's path).
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshd: privilege separation directory: %v", err)
		}
	}
	sftp := "internal-sftp"
	conf := filepath.Join(dir, "sshd_config")
	logPath := filepath.Join(dir, "sshd.log")
	t.Cleanup(func() {
		if s.proc != nil {
			s.proc.stop()
		}
		if t.Failed() {
			t.Logf("sshd log (%s):\n%s", logPath, logTail(logPath))
		}
	})
	retryPort(t, "sshd", func(port int) (string, error) {
		s.Port, s.Addr = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		config := fmt.Sprintf(`ListenAddress %s
HostKey %s
AuthorizedKeysFile %s
PidFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 200
MaxSessions 200
AcceptEnv SHLVL
Subsystem sftp %s
`, s.Addr, hostKey, authKeys, filepath.Join(dir, "sshd.pid"), sftp)
		if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
			return logPath, err
		}
		// -D: stay in the foreground; -e: log to stderr (the log file).
		p, err := startProcess("sshd", exec.Command(sshd, "-D", "-e", "-f", conf), logPath, syscall.SIGTERM)
		if err != nil {
			return logPath, err
		}
		s.proc = p
		err = p.waitReady(func() error { return dialOK(s.Addr) })
		if err == nil {
			cmd := s.Client().SSH("true")
			if out, rerr := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); rerr != nil {
				err = fmt.Errorf("ssh %s true: %v: %s", s.Addr, rerr, out)
			}
		}
		if err != nil {
			p.stop()
			s.proc = nil
		}
		return logPath, err
	})
	return s
}

// Client is how to reach this sshd straight on its port.
func (s *SSHD) Client() SSHClient {
	return SSHClient{User: s.User, Host: "127.0.0.1", Port: s.Port, Key: s.Key}
}

// ProxyClient is how to reach this sshd through a ProxyCommand (`tether ssh-proxy %h %p`),
// naming it host. No port is given, so ssh's %p is 22: set the result's Port to s.Port
// to have -p/-P PORT added and %p be this sshd's port, or write the port into the
// command itself.
func (s *SSHD) ProxyClient(proxyCommand, host string) SSHClient {
	return SSHClient{User: s.User, Host: host, Key: s.Key, ProxyCommand: proxyCommand}
}

// SSHClient builds command lines for ssh, scp and rsync -e ssh with a test's key and no
// user configuration, known hosts or agent.
type SSHClient struct {
	User, Host   string
	Port         int      // 0: none given (ssh's default, or the ProxyCommand decides)
	Key          string   // private key file
	ProxyCommand string   // "": connect directly
	Extra        []string // more ssh options, before the destination (e.g. -c aes128-gcm@openssh.com)
}

// Options are the options ssh, scp and rsync's ssh all take: -F /dev/null
// -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i KEY -o IdentitiesOnly=yes,
// BatchMode, LogLevel=ERROR, SetEnv=SHLVL=1 (the sshd accepts it: bash run by sshd at
// shell level 1 sources ~/.bashrc, which on a developer's machine can take a second and
// print things scp does not expect), the ProxyCommand if any, then Extra. Not the port: ssh
// spells it -p and scp -P.
func (c SSHClient) Options() []string {
	o := []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-i", c.Key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
		"-o", "SetEnv=SHLVL=1"}
	if c.ProxyCommand != "" {
		o = append(o, "-o", "ProxyCommand="+c.ProxyCommand)
	}
	return append(o, c.Extra...)
}

// Dest is USER@HOST.
func (c SSHClient) Dest() string { return c.User + "@" + c.Host }

// Remote is USER@HOST:PATH, a remote file for scp and rsync.
func (c SSHClient) Remote(path string) string { return c.Dest() + ":" + path }

// SSH is the argv of `ssh OPTIONS [-p PORT] USER@HOST REMOTE...`.
func (c SSHClient) SSH(remote ...string) []string {
	a := append([]string{"ssh"}, c.Options()...)
	if c.Port != 0 {
		a = append(a, "-p", strconv.Itoa(c.Port))
	}
	return append(append(a, c.Dest()), remote...)
}

// SCP is the argv of `scp OPTIONS [-P PORT] ARGS...`; name remote files with Remote.
func (c SSHClient) SCP(args ...string) []string {
	a := append([]string{"scp"}, c.Options()...)
	if c.Port != 0 {
		a = append(a, "-P", strconv.Itoa(c.Port))
	}
	return append(a, args...)
}

// Rsync is the argv of `rsync -e 'ssh OPTIONS [-p PORT]' ARGS...`; name remote files with
// Remote.
func (c SSHClient) Rsync(args ...string) []string {
	e := append([]string{"ssh"}, c.Options()...)
	if c.Port != 0 {
		e = append(e, "-p", strconv.Itoa(c.Port))
	}
	for i, w := range e { // rsync splits -e at spaces and honours quotes
		if strings.ContainsAny(w, " \t\"") {
			e[i] = "'" + w + "'"
		}
	}
	return append([]string{"rsync", "-e", strings.Join(e, " ")}, args...)
}
