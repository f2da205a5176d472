package peertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/netload"
)

func TestSSHD(t *testing.T) {
	s := StartSSHD(t)
	c := s.Client()
	if got, want := strings.TrimSpace(Run(t, c.SSH("echo", "hello from", "$USER")...)), "hello from "+s.User; got != want {
		t.Errorf("ssh echo: got %q, want %q", got, want)
	}

	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	want := writeRandom(t, src, 64<<20)
	up, down := filepath.Join(dir, "up.bin"), filepath.Join(dir, "down.bin")
	Run(t, c.SCP(src, c.Remote(up))...)
	Run(t, c.SCP(c.Remote(up), down)...)
	for _, f := range []string{up, down} {
		if got := fileSHA256(t, f); got != want {
			t.Errorf("scp: %s has sha256 %s, want %s", filepath.Base(f), got, want)
		}
	}
	Need(t, "rsync", "rsync")
	synced := filepath.Join(dir, "rsynced.bin")
	Run(t, c.Rsync(src, c.Remote(synced))...)
	if got := fileSHA256(t, synced); got != want {
		t.Errorf("rsync: sha256 %s, want %s", got, want)
	}
}

// A ProxyCommand that carries the connection over its stdin and stdout, as `tether
// ssh-proxy %h %p` does: here ssh -W through the same sshd.
func TestSSHDProxyCommand(t *testing.T) {
	s := StartSSHD(t)
	proxy := strings.Join(s.Client().SSH(), " ")
	proxy = strings.TrimSuffix(proxy, s.Client().Dest()) + "-W 127.0.0.1:" + strconv.Itoa(s.Port) + " " + s.Client().Dest()
	c := s.ProxyClient(proxy, "node.tether")
	if got := strings.TrimSpace(Run(t, c.SSH("echo", "proxied")...)); got != "proxied" {
		t.Errorf("ssh through ProxyCommand: got %q", got)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.bin"), filepath.Join(dir, "dst.bin")
	want := writeRandom(t, src, 4<<20)
	Need(t, "rsync", "rsync")
	Run(t, c.Rsync(src, c.Remote(dst))...)
	if got := fileSHA256(t, dst); got != want {
		t.Errorf("rsync through ProxyCommand: sha256 %s, want %s", got, want)
	}
}

func TestPostgres(t *testing.T) {
	p := StartPostgres(t)
	if os.Geteuid() == 0 && p.OSUser != PostgresOSUser {
		t.Errorf("running as root, the server runs as %q, want %q", p.OSUser, PostgresOSUser)
	}
	if got := p.MustQuery(t, "127.0.0.1", p.Port, "select 1"); got != "1" {
		t.Errorf("select 1 over TCP: got %q", got)
	}
	if got := p.MustQuery(t, p.SocketDir, p.Port, "select 1"); got != "1" {
		t.Errorf("select 1 over the unix socket: got %q", got)
	}
	if _, err := os.Stat(p.SocketPath()); err != nil {
		t.Errorf("socket path: %v", err)
	}
	p.MustQuery(t, p.SocketDir, p.Port, "create table t (n int); insert into t select generate_series(1, 1000)")
	if got := p.MustQuery(t, "127.0.0.1", p.Port, "select sum(n) from t"); got != "500500" {
		t.Errorf("sum over TCP of rows written over the socket: got %q", got)
	}
	if _, err := p.Query(context.Background(), "127.0.0.1", p.Port, "select nonsense"); err == nil ||
		!strings.Contains(err.Error(), "nonsense") {
		t.Errorf("a failing query: got error %v, want psql's complaint", err)
	}
}

// Many curls at once, each body checked against the content's checksum.
func TestHTTPParallelCurls(t *testing.T) {
	curl := Need(t, "curl", "curl")
	h := StartHTTP(t)
	const n, size = 64, 1<<20 + 7
	want := ContentSHA256(size)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			out, err := exec.Command(curl, "-sS", "--fail", "--max-time", "60", h.URL(size)).Output()
			if err != nil {
				errs <- fmt.Errorf("curl %d: %v", i, err)
				return
			}
			if got := sha256hex(out); got != want {
				errs <- fmt.Errorf("curl %d: %d bytes, sha256 %s, want %d bytes, %s", i, len(out), got, size, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := h.Requests(); got != n {
		t.Errorf("server answered %d requests, want %d", got, n)
	}
	out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://"+h.Addr+"/nothing").Output()
	if err != nil || string(out) != "404" {
		t.Errorf("unknown path: %s, %v; want 404", out, err)
	}
}

func TestTCPPeers(t *testing.T) {
	ctx := context.Background()
	if _, err := netload.Upload(ctx, StartSink(t).Addr(), 4, 1<<20); err != nil {
		t.Error(err)
	}
	if _, err := netload.Download(ctx, StartSource(t).Addr(), 4, 1<<20); err != nil {
		t.Error(err)
	}
	if _, err := netload.RoundTrips(ctx, StartEcho(t).Addr(), 1, 10, 64); err != nil {
		t.Error(err)
	}
}

// A missing program fails the test unless TETHER_TEST_ALLOW_MISSING=1, then it skips.
func TestMissingProgram(t *testing.T) {
	for _, allow := range []string{"", "1"} {
		t.Run("allow="+allow, func(t *testing.T) {
			t.Setenv(AllowMissingEnv, allow)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() { // FailNow and SkipNow end the goroutine
				defer close(done)
				Need(r, "tether-no-such-program", "tether-no-such-package")
			}()
			<-done
			switch {
			case allow == "" && !r.failed:
				t.Error("missing program did not fail the test")
			case allow == "1" && !r.skipped:
				t.Error("missing program with the variable set did not skip")
			case !strings.Contains(r.msg, "apt-get install tether-no-such-package"):
				t.Errorf("message %q does not name the package to install", r.msg)
			}
		})
	}
}

type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func writeRandom(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8([32]byte{byte(time.Now().UnixNano())}), size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Two servers at once, as parallel test packages start them: their own ports, sockets
// and shared memory, and the system user created once.
func TestPostgresSideBySide(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := StartPostgres(t)
			if got := p.MustQuery(t, p.SocketDir, p.Port, "select current_setting('port')"); got != strconv.Itoa(p.Port) {
				t.Errorf("server on port %d says its port is %s", p.Port, got)
			}
		})
	}
}
