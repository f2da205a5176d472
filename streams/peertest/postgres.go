package peertest

import (
	"bytes"
	"context"
	"errors"
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
	"time"

	"github.com/tetherhq/tether/streams/polltest"
)

// PostgresOSUser is the system user PostgreSQL runs as when the test runs as root (initdb
// and postgres refuse root); it is created (useradd --system) when missing.
const PostgresOSUser = "tetherpg"

// Postgres is a Debian PostgreSQL server on a temp directory, listening on a free
// 127.0.0.1 port and on a unix socket, with trust authentication.
type Postgres struct {
	Addr      string // 127.0.0.1:PORT
	Port      int
	SocketDir string // holds .s.PGSQL.PORT: psql -h SocketDir -p Port
	User      string // the database superuser to connect as ("tether")
	Database  string // "postgres"
	OSUser    string // the system user the server runs as
	Dir       string // data directory's parent, socket directory and log (postgres.log)

	bin  string // /usr/lib/postgresql/VERSION/bin
	proc *process
}

// StartPostgres runs initdb and postgres from /usr/lib/postgresql/*/bin (the newest
// version installed) on a temp directory, as PostgresOSUser when the test runs as root
// and as the test's user otherwise, and waits until it accepts connections over TCP and
// the unix socket. fsync is off. Stopped (fast shutdown) by t.Cleanup.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := pgBin(t, "initdb", "postgres", "pg_isready", "psql")
	p := &Postgres{User: "tether", Database: "postgres", bin: bin}
	// Its own directory under TMPDIR rather than t.TempDir: the socket's path must stay
	// short (108 bytes), and the server's user must reach it (t.TempDir's parents are
	// the test user's, 0700).
	dir, err := os.MkdirTemp("", "tether-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.Dir = dir
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = systemUser(t, PostgresOSUser)
		p.OSUser = PostgresOSUser
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("postgres: chown %s to %s: %v", dir, PostgresOSUser, err)
		}
	} else {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		p.OSUser = u.Username
	}
	p.SocketDir = p.Dir
	data := filepath.Join(p.Dir, "data")
	logPath := filepath.Join(p.Dir, "postgres.log")
	t.Cleanup(func() {
		if p.proc != nil {
			p.proc.stop()
		}
		if t.Failed() {
			t.Logf("postgres log (%s):\n%s", logPath, logTail(logPath))
		}
	})

	initdb := p.command(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", p.User, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb as %s: %v:\n%s", p.OSUser, err, out)
	}
	retryPort(t, "postgres", func(port int) (string, error) {
		p.Port, p.Addr = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := p.command(cred, filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1",
			"-p", strconv.Itoa(port), "-k", p.SocketDir, "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "logging_collector=off")
		proc, err := startProcess("postgres", cmd, logPath, syscall.SIGINT) // SIGINT: fast shutdown
		if err != nil {
			return logPath, err
		}
		p.proc = proc
		err = proc.waitReady(func() error {
			for _, host := range []string{"127.0.0.1", p.SocketDir} {
				out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-q", "-h", host, "-p", strconv.Itoa(port), "-U", p.User).CombinedOutput()
				if err != nil {
					return fmt.Errorf("pg_isready -h %s: %v %s", host, err, out)
				}
			}
			return nil
		})
		if err != nil {
			proc.stop()
			p.proc = nil
		}
		return logPath, err
	})
	return p
}

// command runs a server program as cred's user (nil: the test's), in the server's directory.
func (p *Postgres) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.Dir
	cmd.Env = append(pgFreeEnv(), "HOME="+p.Dir, "LC_ALL=C")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	return cmd
}

// SocketPath is the server's unix socket, the destination of a forwarded unix socket.
// A client's socket for psql must be named .s.PGSQL.PORT too: psql -h DIR -p PORT.
func (p *Postgres) SocketPath() string {
	return filepath.Join(p.SocketDir, ".s.PGSQL."+strconv.Itoa(p.Port))
}

// PSQL is the argv of this server's version of psql running sql against host (an address,
// or a directory holding the socket .s.PGSQL.PORT) and port, as User on Database,
// unaligned and tuples only, stopping at the first error, reading no psqlrc.
func (p *Postgres) PSQL(host string, port int, sql string) []string {
	return []string{filepath.Join(p.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", host, "-p", strconv.Itoa(port), "-U", p.User, "-d", p.Database, "-c", sql}
}

// Query runs PSQL and returns its output without the final newline; the error carries
// psql's stderr.
func (p *Postgres) Query(ctx context.Context, host string, port int, sql string) (string, error) {
	argv := p.PSQL(host, port, sql)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(pgFreeEnv(), "PGCONNECT_TIMEOUT=10")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("psql -h %s -p %d -c %q: %v: %s", host, port, sql, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// MustQuery is Query that fails t on error, within a minute.
func (p *Postgres) MustQuery(t testing.TB, host string, port int, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.Query(ctx, host, port, sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pgFreeEnv is the environment without PG* settings that would redirect a client.
func pgFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// systemUser looks up name, creating it as a system user without a home or login shell
// when missing, and returns credentials to run as it (no supplementary groups).
func systemUser(t testing.TB, name string) *syscall.Credential {
	t.Helper()
	// Test packages run in parallel: another may be adding the user, holding the lock
	// on /etc/passwd. Try again until it is there.
	var u *user.User
	var lastErr error
	err := polltest.Wait(30*time.Second, func() error {
		var err error
		if u, err = user.Lookup(name); err == nil {
			return nil
		} else if !errors.As(err, new(user.UnknownUserError)) {
			lastErr = err
			return err
		}
		useradd := Need(t, "useradd", "passwd", "/usr/sbin/useradd")
		out, err := exec.Command(useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
			"--shell", "/usr/sbin/nologin", "--comment", "Tether tests' PostgreSQL", name).CombinedOutput()
		if err != nil {
			lastErr = fmt.Errorf("useradd: %v: %s", err, bytes.TrimSpace(out))
			return lastErr
		}
		u, err = user.Lookup(name)
		lastErr = err
		return err
	})
	if err != nil {
		t.Fatalf("create system user %s for postgres: %v", name, lastErr)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}
