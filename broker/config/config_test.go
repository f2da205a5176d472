package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`{"listen":"0.0.0.0:4333","allow_plaintext":true,"state_dir":"/tmp/x","heartbeat_interval":"2s","agent_lost_after":"10s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:4333" || !c.AllowPlaintext || c.Transcripts.MaxBytes != 10<<30 {
		t.Fatalf("config = %+v", c)
	}
	// Read leaves validation to its caller, who may yet lay --allow-plaintext over the file.
	open := write(`{"listen":"0.0.0.0:4222"}`)
	if c, err := Read(open); err != nil || c.Listen != "0.0.0.0:4222" {
		t.Fatalf("Read = %+v, %v", c, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"lsiten":"x"}`, `unknown field "lsiten"`},
		{`{"listen":"nohost"}`, "listen:"},
		{`{"heartbeat_interval":"5"}`, "missing unit"},
		{`{"agent_lost_after":"6s"}`, "agent_lost_after"},
		{`{"admins":[{"name":"a.b","nkey":"U"}]}`, "admins[0].name"},
		{`{"admins":[{"name":"ab","nkey":"SU..."}]}`, "admins[0].nkey"},
		{`{"log_level":"loud"}`, "log_level"},
		{`{"heartbeat_interval":"5"}`, `heartbeat_interval: "5" is not a duration like "5s" or "720h": missing unit in duration "5"`},
		{`{"agent_lost_after":15}`, `agent_lost_after: 15 is not a duration like "5s" or "720h": not a string like "5s"`},
		{`{"transcripts":{"max_bytes":1,"max_age":"30 days"}}`, `transcripts.max_age: "30 days" is not a duration`},
		{`{"transcripts":{"max_bytes":1000,"reserve_bytes":1000}}`, `transcripts.reserve_bytes: 1000 is not less than max_bytes 1000`},
		{`{"transcripts":{"shipped_grace":"-1h"}}`, `shipped_grace must not be negative`},
		{`{"listen":"0.0.0.0:4222"}`, "listen (--listen) 0.0.0.0:4222 serves clients without TLS"},
		{`{"monitor_listen":":8222"}`, "monitor_listen (--monitor) :8222 is not loopback"},
	} {
		if _, err := Load(write(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}

// TestValidateExposure: plain text off loopback, and the unauthenticated monitoring
// endpoint off loopback, each need their own opt-in.
func TestValidateExposure(t *testing.T) {
	const (
		plaintext = "serves clients without TLS on a non-loopback address: set tls_cert_file and tls_key_file " +
			"(--tls-cert, --tls-key), or set allow_plaintext (--allow-plaintext) to accept that agents' and " +
			"users' traffic crosses the network in clear"
		monitor = "is not loopback, and the NATS monitoring endpoint has no authentication: anyone who reaches " +
			"it sees every connection and subject; listen on 127.0.0.1, or set allow_remote_monitor " +
			"(--allow-remote-monitor) to accept that"
	)
	tls := func(c *Config) { c.TLSCertFile, c.TLSKeyFile = "cert.pem", "key.pem" }
	for _, tc := range []struct {
		listen, monitor string
		set             func(*Config)
		want            string // "" when valid
	}{
		{listen: "127.0.0.1:4222"},
		{listen: "127.3.4.5:4222"},
		{listen: "[::1]:4222"},
		{listen: "localhost:4222"},
		{listen: "LocalHost:4222"},
		{listen: "0.0.0.0:4222", want: "listen (--listen) 0.0.0.0:4222 " + plaintext},
		{listen: ":4222", want: "listen (--listen) :4222 " + plaintext},
		{listen: "[::]:4222", want: "listen (--listen) [::]:4222 " + plaintext},
		{listen: "10.0.0.1:4222", want: "listen (--listen) 10.0.0.1:4222 " + plaintext},
		{listen: "broker.example:4222", want: "listen (--listen) broker.example:4222 " + plaintext},
		{listen: "localhost.example:4222", want: "listen (--listen) localhost.example:4222 " + plaintext},
		{listen: "0.0.0.0:4222", set: tls},
		{listen: "0.0.0.0:4222", set: func(c *Config) { c.AllowPlaintext = true }},
		{listen: "127.0.0.1:4222", monitor: "127.0.0.1:8222"},
		{listen: "127.0.0.1:4222", monitor: "localhost:8222"},
		{listen: "127.0.0.1:4222", monitor: "[::1]:8222"},
		{listen: "127.0.0.1:4222", monitor: ":8222", want: "monitor_listen (--monitor) :8222 " + monitor},
		{listen: "127.0.0.1:4222", monitor: "0.0.0.0:8222", want: "monitor_listen (--monitor) 0.0.0.0:8222 " + monitor},
		// TLS on the client port says nothing about the monitoring endpoint, and the
		// plain-text opt-in does not open it either.
		{listen: "0.0.0.0:4222", monitor: "0.0.0.0:8222", set: tls, want: "monitor_listen (--monitor) 0.0.0.0:8222 " + monitor},
		{listen: "127.0.0.1:4222", monitor: "0.0.0.0:8222", set: func(c *Config) { c.AllowPlaintext = true },
			want: "monitor_listen (--monitor) 0.0.0.0:8222 " + monitor},
		{listen: "127.0.0.1:4222", monitor: "0.0.0.0:8222", set: func(c *Config) { c.AllowRemoteMonitor = true }},
		// Each opt-in covers only its own listener.
		{listen: "0.0.0.0:4222", monitor: "127.0.0.1:8222", set: func(c *Config) { c.AllowRemoteMonitor = true },
			want: "listen (--listen) 0.0.0.0:4222 " + plaintext},
	} {
		c := Default()
		c.Listen, c.MonitorListen = tc.listen, tc.monitor
		if tc.set != nil {
			tc.set(&c)
		}
		got := ""
		if err := c.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("listen %q, monitor %q: Validate = %q\nwant %q", tc.listen, tc.monitor, got, tc.want)
		}
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(`{"listen":"127.0.0.1:1","state_dir":"/x"}`)
	f.Add(`{"admins":[{"name":"a","nkey":"U"}]}`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if c, err := Load(p); err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("Load accepted a config Validate rejects: %v", err)
			}
		}
	})
}

// A seed where a public key belongs is refused without being repeated, and the error
// gives its public key; an age identity where a recipient belongs, likewise.
func TestSeedsAreNotEchoed(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	const identity = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
	for _, tc := range []struct {
		c      Config
		secret string
		want   string
	}{
		{Config{Admins: []Admin{{Name: "alice", NKey: string(seed)}}}, string(seed),
			"admins[0].nkey: this is an NKEY seed, a private key: give its public key " + pub + " instead, and keep the seed secret"},
		{Config{Shippers: []Admin{{Name: "ship1", NKey: "SAXXXXXXXXXXXXXXXXXXXXXXXXXX"}}}, "SAXXXXXXXXXXXXXXXXXXXXXXXXXX",
			"shippers[0].nkey: this is an NKEY seed, a private key: give the user public key (U…) that tether keygen printed with it instead, and keep the seed secret"},
		{Config{Recordings: Recordings{Recipients: []string{identity}}}, identity[:16],
			"recordings.recipients[0]: that is an age identity, the private key: give its public key (age1…, which age-keygen -y prints), and keep the identity where recordings are read"},
	} {
		c := Default()
		c.Admins, c.Shippers, c.Recordings = tc.c.Admins, tc.c.Shippers, tc.c.Recordings
		err := c.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("Validate = %v\nwant %s", err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), tc.secret[2:]) {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}
