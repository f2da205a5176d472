package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	c, err := Load(write(`{"listen":"0.0.0.0:4333","state_dir":"/tmp/x","heartbeat_interval":"2s","agent_lost_after":"10s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:4333" || c.Transcripts.MaxBytes != 10<<30 {
		t.Fatalf("config = %+v", c)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"lsiten":"x"}`, `unknown field "lsiten"`},
		{`{"listen":"nohost"}`, "listen:"},
		{`{"heartbeat_interval":"5"}`, "missing unit"},
		{`{"agent_lost_after":"6s"}`, "agent_lost_after"},
		{`{"admins":[{"name":"a.b","nkey":"U"}]}`, "admins[0].name"},
		{`{"admins":[{"name":"ab","nkey":"SU..."}]}`, "admins[0].nkey"},
		{`{"log_level":"loud"}`, "log_level"},
	} {
		if _, err := Load(write(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want error containing %q", tc.in, err, tc.want)
		}
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
