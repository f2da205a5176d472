package miniotest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tetherhq/tether/streams/polltest"
)

// Install is the command that installs the MinIO server the tests run (.ci/run runs it).
const Install = "go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// Timeouts for the server process.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is a MinIO server process bound to a test.
type Server struct {
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// CAFile is the PEM file of the CA that signed the server's certificate, for clients;
	// "" without WithTLS.
	CAFile string

	t       testing.TB
	bin     string
	dir     string
	dataDir string
	certs   string
	logPath string
	env     []string
	tls     bool
	client  *minio.Client
	httpc   *http.Client
	roots   *x509.CertPool

	mu      sync.Mutex
	addr    string // S3 API, host:port
	console string // web console, host:port
	proc    *process
}

// process is one run of the server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, set before done is closed
}

// Option adjusts a Server before it starts.
type Option func(*Server)

// WithTLS serves the S3 API over TLS with a certificate for 127.0.0.1 and localhost signed by
// a throwaway CA, whose certificate is at Server.CAFile.
func WithTLS() Option { return func(s *Server) { s.tls = true } }

// Start starts a MinIO server on free loopback ports with its data in a temp dir, random
// root credentials and a static KMS key (so SSE-S3 and SSE-C work), and waits until it
// answers. It is stopped by t.Cleanup. Start fails t when the minio binary is not
// installed: see Install.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{
		t: t, bin: bin, dir: dir,
		dataDir: filepath.Join(dir, "data"), certs: filepath.Join(dir, "certs"),
		logPath:   filepath.Join(dir, "minio.log"),
		AccessKey: "tether-" + strings.ToLower(rand.Text()[:12]), SecretKey: rand.Text(),
	}
	for _, o := range opts {
		o(s)
	}
	// --certs-dir is always given, so that certificates in ~/.minio/certs never switch a
	// plain-HTTP server to TLS.
	for _, d := range []string{s.dataDir, s.certs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.roots = x509.NewCertPool()
	if s.tls {
		s.CAFile = filepath.Join(dir, "ca.pem")
		writeCerts(t, s.certs, s.CAFile)
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		s.roots.AppendCertsFromPEM(pem)
	}
	s.env = environ(s.AccessKey, s.SecretKey, "tether-test:"+base64.StdEncoding.EncodeToString(randomBytes(t, 32)))
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("minio log (%s):\n%s", s.logPath, logTail(s.logPath))
		}
	})

	// Another process may take a port between choosing it and minio binding it: choose
	// again a few times.
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		s.addr, s.console = freeAddr(t), freeAddr(t)
		s.mu.Unlock()
		s.client = s.newClient(t)
		err = s.start()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(logTail(s.logPath), "address already in use") {
			t.Fatalf("start minio: %v", err)
		}
	}
}

// Binary finds the minio server: on PATH, else in $(go env GOBIN) or $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if gobin := strings.TrimSpace(lines[0]); gobin != "" {
			dirs = append(dirs, gobin)
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	} else {
		for _, p := range filepath.SplitList(build.Default.GOPATH) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "minio")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("minio not installed: run .ci/run's install step (%s)", Install)
}

// Endpoint is the S3 API's host:port.
func (s *Server) Endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// TLS reports whether the server was started WithTLS.
func (s *Server) TLS() bool { return s.tls }

// Client is a client of the root user, for set-up and checks that the code under test
// does not do itself (StatObject, SetBucketEncryption).
func (s *Server) Client() *minio.Client { return s.client }

// MakeBucket creates a bucket, failing the test on error.
func (s *Server) MakeBucket(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		s.t.Fatalf("make bucket %s: %v", name, err)
	}
}

// Stop stops the server: SIGTERM, then SIGKILL after a while. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Restart stops the server if it runs and starts it again with the same data, port and
// credentials, waiting until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart minio: %v", err)
	}
}

// start runs the server process and waits until it answers; on error no process is left.
func (s *Server) start() error {
	s.mu.Lock()
	args := []string{"server", s.dataDir, "--address", s.addr, "--console-address", s.console,
		"--certs-dir", s.certs, "--quiet"}
	s.mu.Unlock()
	log, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close() // the process has its own descriptor
	fmt.Fprintf(log, "--- %s %s\n", s.bin, strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = s.dir, s.env, log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	exited := false
	err = polltest.Wait(startTimeout, func() error {
		select {
		case <-p.done:
			exited = true
			return nil
		default:
		}
		return s.ping()
	})
	switch {
	case exited:
		s.Stop()
		return fmt.Errorf("minio exited during start-up (%v): %s", p.err, logTail(s.logPath))
	case err != nil:
		s.Stop()
		return fmt.Errorf("minio did not answer within %v: %w", startTimeout, err)
	}
	return nil
}

// ping succeeds once the server is live and serves S3 requests.
func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+s.Endpoint()+"/minio/health/live", nil)
	if err != nil {
		return err
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s", resp.Status)
	}
	_, err = s.client.ListBuckets(ctx)
	return err
}

func (s *Server) newClient(t testing.TB) *minio.Client {
	tr, err := minio.DefaultTransport(s.tls)
	if err != nil {
		t.Fatal(err)
	}
	if s.tls {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
	}
	c, err := minio.New(s.addr, &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:    s.tls,
		Transport: tr,
		// ping's deadline, not the client, decides how long start-up may take.
		MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.httpc = &http.Client{Transport: tr}
	return c
}

// environ is the test process's environment without MINIO_ settings, plus the server's.
func environ(user, password, kmsKey string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"MINIO_ROOT_USER="+user,
		"MINIO_ROOT_PASSWORD="+password,
		"MINIO_KMS_SECRET_KEY="+kmsKey,
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on",
	)
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// logTail is the end of the server's log.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
