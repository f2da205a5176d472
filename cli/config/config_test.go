package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

const good = `{"broker_url": "nats://127.0.0.1:4222", "user": "alice", "nkey_seed_file": "alice.nk"}`

func TestParseStrict(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"good", good, ""},
		{"unknown field", `{"broker_url": "nats://h:1", "usr": "alice"}`, `unknown field "usr"`},
		{"trailing", good + `{}`, "unexpected data after"},
		{"wrong type", `{"user": 7}`, "cannot unmarshal number"},
		{"not json", `broker_url = x`, "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := Config{BrokerURL: "nats://127.0.0.1:4222", User: "alice", NKeySeedFile: "k"}
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"cluster", func(c *Config) { c.BrokerURL = "tls://a:4222, tls://b:4222" }, ""},
		{"no url", func(c *Config) { c.BrokerURL = "" }, "broker_url is required"},
		{"bad scheme", func(c *Config) { c.BrokerURL = "http://h:1" }, `broker_url "http://h:1": scheme "http"`},
		{"no host", func(c *Config) { c.BrokerURL = "nats://" }, "no host"},
		{"no user", func(c *Config) { c.User = "" }, "user is required"},
		{"bad user", func(c *Config) { c.User = "a.b" }, `user: invalid name "a.b"`},
		{"wildcard user", func(c *Config) { c.User = "*" }, `invalid name "*"`},
		{"no seed", func(c *Config) { c.NKeySeedFile = "" }, "nkey_seed_file is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadRelativeSeed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.SeedPath(), filepath.Join(dir, "alice.nk"); got != want {
		t.Errorf("SeedPath = %q, want %q", got, want)
	}
	c.NKeySeedFile = "/abs/alice.nk"
	if got := c.SeedPath(); got != "/abs/alice.nk" {
		t.Errorf("SeedPath = %q, want the absolute path", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	path := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(path, []byte(`{"broker_url": "nats://h:1", "user": "alice"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "nkey_seed_file is required") {
		t.Errorf("Load = %v, want a validation error", err)
	}
}

func TestWriteLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.json")
	want := &Config{BrokerURL: "nats://127.0.0.1:4222", User: "alice", NKeySeedFile: "alice.nk"}
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.BrokerURL != want.BrokerURL || got.User != want.User || got.NKeySeedFile != want.NKeySeedFile {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
	if err := Write(path, &Config{}); err == nil {
		t.Error("Write accepted an invalid config")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the config (no temp files)", len(entries))
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("TETHER_CONFIG", "/x/c.json")
	if got := DefaultPath(); got != "/x/c.json" {
		t.Errorf("DefaultPath = %q", got)
	}
	t.Setenv("TETHER_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got := DefaultPath(); got != "/xdg/tether/config.json" {
		t.Errorf("DefaultPath = %q", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/al")
	if got := DefaultPath(); got != "/home/al/.config/tether/config.json" {
		t.Errorf("DefaultPath = %q", got)
	}
}

// Find keeps the precedence $TETHER_CONFIG > the user's config > the demo's, and falls
// back to the demo's config only when it exists.
func TestFind(t *testing.T) {
	home := t.TempDir()
	user := filepath.Join(home, ".config", "tether", "config.json")
	dev := filepath.Join(home, ".tether", "dev", "config.json")
	env := map[string]string{"HOME": home}
	getenv := func(k string) string { return env[k] }
	touch := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what, want string) {
		t.Helper()
		if got := Find(getenv); got != want {
			t.Errorf("%s: Find = %q, want %q", what, got, want)
		}
	}
	check("nothing exists: the user's path, for the error", user)
	touch(dev)
	check("only the demo's", dev)
	if DevPath(home) != dev {
		t.Errorf("DevPath = %q, want %q", DevPath(home), dev)
	}
	touch(user)
	check("the user's over the demo's", user)
	env["XDG_CONFIG_HOME"] = filepath.Join(home, "xdg")
	check("an XDG config that does not exist: the demo's", dev)
	env["TETHER_CONFIG"] = "/elsewhere.json"
	check("$TETHER_CONFIG over both", "/elsewhere.json")
}

func writeSeed(t *testing.T, dir string) (seedFile, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ = kp.PublicKey()
	seedFile = filepath.Join(dir, pub[:8]+".nk")
	if err := os.WriteFile(seedFile, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return seedFile, pub
}

func TestConnect(t *testing.T) {
	dir := t.TempDir()
	seedFile, pub := writeSeed(t, dir)
	otherSeed, _ := writeSeed(t, dir)
	url := sessiontest.StartServer(t, pub)

	c := &Config{BrokerURL: url, User: "alice", NKeySeedFile: filepath.Base(seedFile), dir: dir}
	nc, err := c.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got := nc.NewRespInbox(); !strings.HasPrefix(got, "_INBOX.u.alice.") {
		t.Errorf("inbox %q does not use the user's prefix", got)
	}
	nc.Close()

	c.NKeySeedFile = otherSeed
	_, err = c.Connect()
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.HasPrefix(err.Error(), "the broker refused the key in "+otherSeed+" (public key U") ||
		!strings.HasSuffix(err.Error(), "it is not user alice's, nor any user's it knows") {
		t.Errorf("Connect with an unknown key = %v, want a RefusedError", err)
	}

	c.NKeySeedFile = "missing.nk"
	if _, err := c.Connect(); err == nil || !strings.HasPrefix(err.Error(), "read nkey seed "+filepath.Join(dir, "missing.nk")) {
		t.Errorf("Connect without a seed = %v", err)
	}
	bad := filepath.Join(dir, "bad.nk")
	os.WriteFile(bad, []byte("not a seed\n"), 0o600)
	c.NKeySeedFile = bad
	if _, err := c.Connect(); err == nil || !strings.HasPrefix(err.Error(), "read nkey seed "+bad) {
		t.Errorf("Connect with a bad seed = %v", err)
	}

	// A good seed others can read is refused before the broker is dialled.
	if err := os.Chmod(seedFile, 0o644); err != nil {
		t.Fatal(err)
	}
	c.NKeySeedFile = filepath.Base(seedFile)
	want := "nkey seed " + seedFile + " is readable by others (mode 0644): run chmod 600 " + seedFile
	if _, err := c.Connect(); err == nil || err.Error() != want {
		t.Errorf("Connect with a seed others can read = %v\nwant %s", err, want)
	}
}

// A key the broker knows as another user's fails Connect at once, naming the user, the
// key and the config, where every request would wait for its timeout.
func TestConnectUserKeyMismatch(t *testing.T) {
	dir := t.TempDir()
	aliceSeed, alicePub := writeSeed(t, dir)
	_, bobPub := writeSeed(t, dir)
	user := func(name, pub string) *server.NkeyUser {
		inbox := subjects.UserInbox(name) + ".>"
		return &server.NkeyUser{Nkey: pub, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"tether.api." + name + ".*"}},
			Subscribe: &server.SubjectPermission{Allow: []string{inbox}},
		}}
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Nkeys: []*server.NkeyUser{user("alice", alicePub), user("bob", bobPub)}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

	path := filepath.Join(dir, "bob.json")
	if err := Write(path, &Config{BrokerURL: s.ClientURL(), User: "bob", NKeySeedFile: filepath.Base(aliceSeed)}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	_, err = c.Connect()
	var me *MismatchError
	want := "the key in " + aliceSeed + " (public key " + alicePub + ") is not user bob's: the broker knows it as another user's (config " + path + ")"
	if !errors.As(err, &me) || err.Error() != want {
		t.Fatalf("Connect = %v\nwant %s", err, want)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Connect took %v to fail", d)
	}
	// The right user connects.
	c.User = "alice"
	nc, err := c.Connect()
	if err != nil {
		t.Fatalf("Connect as alice: %v", err)
	}
	nc.Close()
}

func TestCAPathRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	if err := os.WriteFile(p, []byte(`{"broker_url":"tls://b:4222","user":"alice","nkey_seed_file":"a.nk","ca_file":"ca.pem"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.CAPath(), filepath.Join(dir, "ca.pem"); got != want {
		t.Fatalf("CAPath = %q, want %q", got, want)
	}
	if (&Config{}).CAPath() != "" {
		t.Fatal("CAPath of an unset ca_file is not empty")
	}
}
