package clicmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestKeygenOut(t *testing.T) {
	e := &env{t: t, cfgPath: "/nonexistent/config.json"} // keygen needs no config
	path := filepath.Join(t.TempDir(), "me.nk")
	r := e.run("", "keygen", "--out", path)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		t.Fatalf("seed file: %v", err)
	}
	pub, _ := kp.PublicKey()
	if want := "Wrote seed to " + path + "\nPublic key: " + pub + "\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}

	r = e.run("", "keygen", "--out", path)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists: refusing to overwrite") {
		t.Errorf("second keygen: exit %d, stderr %q", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Error("the seed file was changed")
	}
}

func TestKeygenPrint(t *testing.T) {
	e := &env{t: t, cfgPath: "/nonexistent/config.json"}
	r := e.run("", "keygen")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(r.stdout)))
	if err != nil {
		t.Fatalf("stdout %q is not a seed: %v", r.stdout, err)
	}
	pub, _ := kp.PublicKey()
	if r.stderr != "Public key: "+pub+"\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	r = e.run("", "keygen", "-o", "json")
	res := decode[keygenResult](t, []byte(r.stdout))
	if !nkeys.IsValidPublicUserKey(res.PublicKey) || !strings.HasPrefix(res.Seed, "SU") {
		t.Errorf("json = %+v", res)
	}
}
