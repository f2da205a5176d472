package clicmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func TestMain(m *testing.M) {
	playPoll = 10 * time.Millisecond
	os.Exit(m.Run())
}

// env is a NATS server, a client config for user alice, and a fake control plane.
type env struct {
	t       *testing.T
	cfgPath string
	cp      *nats.Conn // the fake control plane's connection
	wg      sync.WaitGroup
}

func newKey(t *testing.T) (seed []byte, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ = kp.Seed()
	pub, _ = kp.PublicKey()
	return seed, pub
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	seed, pub := newKey(t)
	cpSeed, cpPub := newKey(t)
	url := sessiontest.StartServer(t, pub, cpPub)

	if err := os.WriteFile(filepath.Join(dir, "alice.nk"), append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfgPath: filepath.Join(dir, "config.json")}
	if err := config.Write(e.cfgPath, &config.Config{BrokerURL: url, User: "alice", NKeySeedFile: "alice.nk"}); err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.FromSeed(cpSeed)
	var err error
	e.cp, err = nats.Connect(url, nats.Nkey(cpPub, kp.Sign))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.wg.Wait(); e.cp.Close() })
	return e
}

// handle serves verb for alice with fn, which returns the reply or an *api.Error.
func (e *env) handle(verb string, fn func(data []byte) (any, error)) {
	e.t.Helper()
	_, err := e.cp.Subscribe(subjects.API("alice", verb), func(m *nats.Msg) {
		resp, err := fn(m.Data)
		out := nats.NewMsg(m.Reply)
		if err != nil {
			ae := err.(*api.Error)
			out.Header.Set(micro.ErrorCodeHeader, ae.Code)
			out.Header.Set(micro.ErrorHeader, ae.Message)
			out.Data, _ = json.Marshal(ae)
		} else {
			out.Data, _ = json.Marshal(resp)
		}
		if err := m.RespondMsg(out); err != nil {
			e.t.Errorf("respond: %v", err)
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.cp.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs tether with args against e's config.
func (e *env) run(stdin string, args ...string) result {
	return e.runEnv(nil, stdin, append([]string{"--config", e.cfgPath}, args...)...)
}

// runEnv runs tether with args as they are, in an environment that holds only vars and
// TERM.
func (e *env) runEnv(vars map[string]string, stdin string, args ...string) result {
	var stdout, stderr bytes.Buffer
	a := &app{
		stdin:  strings.NewReader(stdin),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string {
			if k == "TERM" {
				return "xterm-256color"
			}
			return vars[k]
		},
	}
	code := a.main(e.t.Context(), args)
	return result{stdout.String(), stderr.String(), code}
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, data, err)
	}
	return v
}

// configWithSeed writes a copy of the config at path using seedFile and returns its path.
func configWithSeed(path, seedFile string) (string, error) {
	c, err := config.Load(path)
	if err != nil {
		return "", err
	}
	c.NKeySeedFile = seedFile
	out := filepath.Join(filepath.Dir(path), "other.json")
	return out, config.Write(out, c)
}
