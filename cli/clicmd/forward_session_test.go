package clicmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// forwardingLine matches what forward prints for a listener.
var forwardingLine = regexp.MustCompile(`^Forwarding (\S+) -> (\S+)$`)

// A session the broker ends is reported, with the reason the broker gives for it when
// asked (not the End frame's, which the agent could forge), and the forward exits
// non-zero with its listeners closed and its socket files gone.
func TestForwardSessionEnds(t *testing.T) {
	e := newEnv(t)
	req := serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, _ frame.Frame) error {
		return a.End(0, "exit")
	})
	e.handle(api.VerbGetSession, func(b []byte) (any, error) {
		var r api.GetSessionRequest
		if err := json.Unmarshal(b, &r); err != nil || r.SessionID != "alice-0a1b2c3d" {
			return nil, fmt.Errorf("GetSession %s: %v", b, err)
		}
		return api.GetSessionResponse{Session: api.Session{ID: r.SessionID, State: api.StateTerminated,
			Reason: "idle_timeout", Detail: "no traffic for 20m0s"}}, nil
	})
	sock := filepath.Join(t.TempDir(), "pg.sock")
	r := e.run("", "forward", "--reason", "JIRA-2", "web-1", "0:80", sock+":db.internal:5432", "0:80", "0:unix:/run/docker.sock")
	if r.code != 255 || r.stderr != "tether: session alice-0a1b2c3d ended (idle_timeout: no traffic for 20m0s)\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := api.StartSessionRequest{Target: "web-1", Reason: "JIRA-2",
		Forwards: []api.Forward{{Port: 80}, {Host: "db.internal", Port: 5432}, {UnixSocket: "/run/docker.sock"}}}
	if !reflect.DeepEqual(*req, want) {
		t.Errorf("request = %+v, want %+v", *req, want)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	wantTo := []string{"web-1:80", "web-1:db.internal:5432", "web-1:80", "web-1:unix:/run/docker.sock"}
	if len(lines) != len(wantTo) {
		t.Fatalf("stdout %q: want %d Forwarding lines", r.stdout, len(wantTo))
	}
	for i, l := range lines {
		m := forwardingLine.FindStringSubmatch(l)
		switch {
		case m == nil || m[2] != wantTo[i]:
			t.Errorf("line %d: %q, want Forwarding ... -> %s", i, l, wantTo[i])
		case i == 1 && m[1] != sock:
			t.Errorf("line %d: %q, want it from %s", i, l, sock)
		case i != 1 && (!strings.HasPrefix(m[1], "127.0.0.1:") || strings.HasSuffix(m[1], ":0")):
			t.Errorf("line %d: %q, want it from a port of 127.0.0.1 that was picked", i, l)
		case i != 1:
			if c, err := net.Dial("tcp", m[1]); err == nil {
				c.Close()
				t.Errorf("%s still listens after the session ended", m[1])
			}
		}
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file left after the session ended: %v", err)
	}
}

// start-session of a Port document listens on its localPortNumber and passes the
// parameters on: the broker resolves the destination.
func TestStartSessionPortDocument(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbGetDocument, func([]byte) (any, error) {
		return api.GetDocumentResponse{Document: api.DocumentDescription{Name: api.DocPortForwarding, SessionType: api.SessionTypePort,
			Parameters: []api.DocumentParameter{{Name: "portNumber", Default: "80"}, {Name: "localPortNumber", Default: "0"}}}}, nil
	})
	req := serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, _ frame.Frame) error {
		return a.End(-1, "terminated: by bob")
	})
	r := e.run("", "start-session", "--target", "web-1", "--document-name", api.DocPortForwarding, "--parameters", "portNumber=8080")
	if r.code != 255 || r.stderr != "tether: session alice-0a1b2c3d ended (terminated: by bob)\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if m := forwardingLine.FindStringSubmatch(strings.TrimSuffix(r.stdout, "\n")); m == nil || m[2] != "web-1:8080" ||
		!strings.HasPrefix(m[1], "127.0.0.1:") || strings.HasSuffix(m[1], ":0") {
		t.Errorf("stdout %q, want one Forwarding line from a picked port to web-1:8080", r.stdout)
	}
	want := api.StartSessionRequest{Target: "web-1", Document: api.DocPortForwarding, Parameters: map[string][]string{"portNumber": {"8080"}}}
	if !reflect.DeepEqual(*req, want) {
		t.Errorf("request = %+v, want %+v", *req, want)
	}

	// A busy localPortNumber fails before a session starts.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	*req = api.StartSessionRequest{}
	r = e.run("", "start-session", "--target", "web-1", "--document-name", api.DocPortForwarding, "--parameters", "localPortNumber="+port)
	if r.code != 1 || !strings.Contains(r.stderr, "tether: localPortNumber "+port+": listen tcp 127.0.0.1:"+port+": bind: address already in use") {
		t.Errorf("busy port: exit %d, stderr %q", r.code, r.stderr)
	}
	if req.Target != "" {
		t.Errorf("a session started for a busy port: %+v", *req)
	}
	r = e.run("", "start-session", "--target", "web-1", "--document-name", api.DocPortForwarding, "--parameters", "localPortNumber=x")
	if r.code != 2 || !strings.HasPrefix(r.stderr, `tether: --parameters localPortNumber="x": not a port number`) {
		t.Errorf("bad port: exit %d, stderr %q", r.code, r.stderr)
	}
}

// ssh-proxy starts a session of Tether-StartSSHSession on the target named by HOST
// without its .tether suffix; stdout carries nothing but the connection's bytes.
func TestSSHProxySessionEnds(t *testing.T) {
	e := newEnv(t)
	req := serveSessions(t, e, func(ctx context.Context, a *sessiontest.Agent, _ frame.Frame) error {
		return a.End(-1, "max_duration: 1h0m0s")
	})
	r := e.run("", "ssh-proxy", "--reason", "JIRA-3", "web-1.tether", "2222")
	// The connection the agent never acked may be reported as it is torn down.
	if r.code != 255 || r.stdout != "" || !strings.HasSuffix(r.stderr, "tether: session alice-0a1b2c3d ended (max_duration: 1h0m0s)\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	want := api.StartSessionRequest{Target: "web-1", Document: api.DocSSH, Reason: "JIRA-3",
		Parameters: map[string][]string{"portNumber": {"2222"}}}
	if !reflect.DeepEqual(*req, want) {
		t.Errorf("request = %+v, want %+v", *req, want)
	}
	r = e.run("", "ssh-proxy", "web-1.tether", "0")
	if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "tether: PORT: port 0: not a destination (1-65535)\n") {
		t.Errorf("port 0: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
