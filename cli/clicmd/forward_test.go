package clicmd

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestForwardUsage(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbStartSession, func([]byte) (any, error) {
		t.Error("a session started for a bad command line")
		return nil, &api.Error{Code: api.CodeBadRequest, Message: "no"}
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"forward"}, "tether: missing TARGET\n"},
		{[]string{"forward", "web-1"}, "tether: missing MAPPING (LOCAL:PORT, LOCAL:HOST:PORT or LOCAL:unix:/PATH)\n"},
		{[]string{"forward", "web-1", "9999:80", "9999:81"}, "tether: mapping \"9999:81\": local port 9999 is already used by \"9999:80\"\n"},
		{[]string{"forward", "web-1", "9999:fd00::1:80"}, "tether: mapping \"9999:fd00::1:80\": \"fd00::1:80\": too many colons (an IPv6 address goes in brackets: [::1]:5432)\n"},
	} {
		r := e.run("", tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.want) || !strings.Contains(r.stderr, "Try: tether forward --help") && len(tc.args) > 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2, %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// A busy local port fails before any session starts.
func TestForwardBusyPort(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbStartSession, func([]byte) (any, error) {
		t.Error("a session started although a listener failed")
		return nil, &api.Error{Code: api.CodeBadRequest, Message: "no"}
	})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	sock := filepath.Join(t.TempDir(), "a.sock")
	r := e.run("", "forward", "web-1", sock+":80", port+":80")
	if r.code != 1 || !strings.Contains(r.stderr, "tether: mapping "+port+":80: listen tcp 127.0.0.1:"+port+": bind: address already in use") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the socket opened before the busy port is still there: %v", err)
	}
}

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	// A stale socket, left by a tether that was killed, is replaced.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l, err = listenUnix(stale)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	fi, err := os.Lstat(stale)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	// One in use is not.
	if _, err := listenUnix(stale); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Errorf("socket in use: %v", err)
	}
	l.Close()
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after close: %v", err)
	}
	// Nor is a file.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenUnix(file); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("file: %v", err)
	}
}

func TestBindWarning(t *testing.T) {
	for bind, warn := range map[string]bool{"127.0.0.1": false, "127.0.0.2": false, "::1": false, "[::1]": false,
		"localhost": false, "0.0.0.0": true, "10.1.2.3": true, "::": true, "myhost": true} {
		if got := bindWarning(bind) != ""; got != warn {
			t.Errorf("bindWarning(%q) = %v, want %v", bind, got, warn)
		}
	}
}

func TestLocalPortNumber(t *testing.T) {
	doc := api.DocumentDescription{Name: "Ops-Port", Parameters: []api.DocumentParameter{{Name: "localPortNumber", Default: "15432"}}}
	for _, tc := range []struct {
		params map[string][]string
		doc    api.DocumentDescription
		want   int
		err    string
	}{
		{params: map[string][]string{"localPortNumber": {"9999"}}, doc: doc, want: 9999},
		{params: map[string][]string{"localPortNumber": {"0"}}, doc: doc, want: 0},
		{params: map[string][]string{"localPortNumber": {""}}, doc: doc, want: 0},
		{doc: doc, want: 15432},
		{want: 0},
		{params: map[string][]string{"localPortNumber": {"99999"}}, err: `--parameters localPortNumber="99999": not a port number (0-65535) (0-65535; 0 picks a free port)`},
		{params: map[string][]string{"localPortNumber": {"1", "2"}}, err: "given 2 times"},
		{doc: api.DocumentDescription{Name: "Bad", Parameters: []api.DocumentParameter{{Name: "localPortNumber", Default: "x"}}},
			err: `document Bad: default localPortNumber="x": not a port number`},
	} {
		got, err := localPortNumber(tc.params, tc.doc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("localPortNumber(%v) = %d, %v; want error %q", tc.params, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("localPortNumber(%v) = %d, %v; want %d", tc.params, got, err, tc.want)
		}
	}
}

func TestPortDestination(t *testing.T) {
	doc := api.DocumentDescription{Parameters: []api.DocumentParameter{{Name: "portNumber", Default: "80"}, {Name: "host", Default: "db"}}}
	for _, tc := range []struct {
		forwards []api.Forward
		params   map[string][]string
		want     string
	}{
		{forwards: []api.Forward{{Host: "fd00::1", Port: 5432}}, want: "[fd00::1]:5432"},
		{params: map[string][]string{"portNumber": {"8080"}}, want: "db:8080"},
		{want: "db:80"},
	} {
		if got := portDestination(tc.forwards, tc.params, doc); got != tc.want {
			t.Errorf("portDestination(%v, %v) = %q, want %q", tc.forwards, tc.params, got, tc.want)
		}
	}
}

func TestSSHProxyTarget(t *testing.T) {
	for _, tc := range []struct {
		host, port string
		target     string
		p          int
		err        string
	}{
		{host: "web-1.tether", port: "22", target: "web-1", p: 22},
		{host: "WEB-1.Tether", port: "2222", target: "WEB-1", p: 2222},
		{host: "i-0abc", port: "22", target: "i-0abc", p: 22},
		{host: "web-1.example.com", port: "22", target: "web-1.example.com", p: 22},
		{host: ".tether", port: "22", target: ".tether", p: 22},
		{host: "", port: "22", err: "not an instance id or name"},
		{host: "-oProxyCommand=x", port: "22", err: "not an instance id or name"},
		{host: "a b.tether", port: "22", err: "not an instance id or name"},
		{host: "web-1", port: "0", err: "PORT: port 0: not a destination"},
		{host: "web-1", port: "ssh", err: `PORT: port "ssh": not a port number`},
	} {
		target, p, err := sshProxyTarget(tc.host, tc.port)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("sshProxyTarget(%q, %q) = %q, %d, %v; want error %q", tc.host, tc.port, target, p, err, tc.err)
			}
			continue
		}
		if err != nil || target != tc.target || p != tc.p {
			t.Errorf("sshProxyTarget(%q, %q) = %q, %d, %v; want %q, %d", tc.host, tc.port, target, p, err, tc.target, tc.p)
		}
	}
}

// A listener is named by --bind as given and the port picked, or by its path.
func TestOpenListenersNames(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "x.sock")
	for _, bind := range []string{"127.0.0.1", "localhost", "0.0.0.0"} {
		ms, err := parseMappings([]string{"0:80", sock + ":80"}, false)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := openListeners(bind, ms, []int{0, 0})
		if err != nil {
			t.Fatalf("--bind %s: %v", bind, err)
		}
		port := strconv.Itoa(ls[0].l.Addr().(*net.TCPAddr).Port)
		if ls[0].name != bind+":"+port || ls[1].name != sock {
			t.Errorf("--bind %s: names %q, %q; want %s:%s, %s", bind, ls[0].name, ls[1].name, bind, port, sock)
		}
		ls.close()
	}
}
