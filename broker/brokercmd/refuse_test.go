package brokercmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// Refusals that stop a command before it starts anything: no broker, no connection.

func TestRunRefusesExposure(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "broker.json")
	if err := os.WriteFile(cfgFile, []byte(`{"listen":"0.0.0.0:0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--listen", "0.0.0.0:0"},
			"tether-broker: listen (--listen) 0.0.0.0:0 serves clients without TLS on a non-loopback address: " +
				"set tls_cert_file and tls_key_file (--tls-cert, --tls-key), or set allow_plaintext (--allow-plaintext) " +
				"to accept that agents' and users' traffic crosses the network in clear\nTry: tether-broker run -h\n"},
		{[]string{"run", "--monitor", ":0"},
			"tether-broker: monitor_listen (--monitor) :0 is not loopback, and the NATS monitoring endpoint has no " +
				"authentication: anyone who reaches it sees every connection and subject; listen on 127.0.0.1, or set " +
				"allow_remote_monitor (--allow-remote-monitor) to accept that\nTry: tether-broker run -h\n"},
		// The flag is laid over the file before validation: the file's listen is accepted,
		// and the refusal is about the monitor.
		{[]string{"run", "--config", cfgFile, "--allow-plaintext", "--monitor", "0.0.0.0:0"},
			"tether-broker: monitor_listen (--monitor) 0.0.0.0:0 is not loopback"},
		{[]string{"dev", "--listen", "0.0.0.0:0", "--no-shell"},
			"tether-broker: listen (--listen) 0.0.0.0:0 serves clients without TLS on a non-loopback address"},
	} {
		stateDir := filepath.Join(t.TempDir(), "state")
		var stdout, stderr bytes.Buffer
		code := main(append(tc.args, "--state-dir", stateDir), &stdout, &stderr)
		if code != 2 || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q\nwant exit 2 and stderr starting %q", tc.args, code, stderr.String(), tc.want)
		}
		if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
			t.Errorf("%q: state dir created before the refusal (%v)", tc.args, err)
		}
	}
}

// openSeed writes a fresh seed at path with mode 0644.
func openSeed(t *testing.T, path string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestShipRefusesOpenSeed(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "ship.nk")
	openSeed(t, seed)
	var stdout, stderr bytes.Buffer
	code := main([]string{"ship", "--broker", "nats://127.0.0.1:1", "--name", "ship1", "--nkey-seed", seed,
		"--recordings-dir", filepath.Join(dir, "rec"), "--state-dir", dir}, &stdout, &stderr)
	want := "tether-broker: nkey seed " + seed + " is readable by others (mode 0644): run chmod 600 " + seed + "\n"
	if code != 1 || stderr.String() != want {
		t.Fatalf("exit %d, stderr %q\nwant exit 1 and %q", code, stderr.String(), want)
	}
}

func TestDevRefusesOpenSeed(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "user.nk")
	openSeed(t, seed)
	var stdout, stderr bytes.Buffer
	code := main([]string{"dev", "--state-dir", dir, "--listen", "127.0.0.1:0", "--no-shell"}, &stdout, &stderr)
	want := "dev user key " + seed + " is readable by others (mode 0644): run chmod 600 " + seed + "\n"
	if code != 1 || !strings.HasSuffix(stderr.String(), want) {
		t.Fatalf("exit %d, stderr %q\nwant exit 1 and a last line %q", code, stderr.String(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "broker")); !os.IsNotExist(err) {
		t.Errorf("broker state created before the refusal (%v)", err)
	}
}

// A seed passed to --admin or --shipper is refused without being repeated; the error
// gives its public key and names the flag.
func TestRunRefusesSeedForKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin", "alice=" + string(seed)}, "tether-broker: --admin alice=…: this is an NKEY seed, a private key: give its public key " + pub + " instead"},
		{[]string{"--admin", string(seed)}, "tether-broker: --admin: this is an NKEY seed, a private key: give its public key " + pub + " instead"},
		{[]string{"--shipper", "ship1=" + string(seed)}, "tether-broker: --shipper ship1=…: this is an NKEY seed"},
	} {
		stateDir := filepath.Join(t.TempDir(), "state")
		var stdout, stderr bytes.Buffer
		code := main(append([]string{"run", "--state-dir", stateDir}, tc.args...), &stdout, &stderr)
		if code != 2 || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q\nwant exit 2 and stderr starting %q", tc.args, code, stderr.String(), tc.want)
		}
		if strings.Contains(stderr.String(), string(seed[2:])) {
			t.Errorf("%q: the seed is repeated: %s", tc.args, stderr.String())
		}
	}
}

// A bad duration in the config file names its field.
func TestRunNamesBadDuration(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "broker.json")
	if err := os.WriteFile(cfgFile, []byte(`{"transcripts":{"max_age":"30d"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := main([]string{"run", "--config", cfgFile}, &stdout, &stderr)
	want := "tether-broker: config " + cfgFile + `: transcripts.max_age: "30d" is not a duration like "5s" or "720h": unknown unit "d" in duration "30d"` + "\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q\nwant %q", code, stderr.String(), want)
	}
}
