package clicmd

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSSHConfigBlock(t *testing.T) {
	for _, tc := range []struct {
		pattern, exe, config string
		want                 string
		err                  string
	}{
		{pattern: "*.tether", exe: "/usr/local/bin/tether", want: "" +
			"# Tether: ssh, scp, sftp and rsync reach instances through the broker, e.g. ssh user@web-1.tether\n" +
			"Host *.tether\n" +
			"    ProxyCommand /usr/local/bin/tether ssh-proxy %h %p\n"},
		{pattern: "i-* *.prod", exe: "/opt/My Tools/tether", config: "/home/a/50%/t.json", want: "" +
			"# Tether: ssh, scp, sftp and rsync reach instances through the broker, e.g. ssh user@HOST, with HOST matching i-* *.prod\n" +
			"Host i-* *.prod\n" +
			"    ProxyCommand \"/opt/My Tools/tether\" --config /home/a/50%%/t.json ssh-proxy %h %p\n"},
		{pattern: "*.tether", exe: "/x/$HOME `id` \"q\" \\/tether", want: "" +
			"# Tether: ssh, scp, sftp and rsync reach instances through the broker, e.g. ssh user@web-1.tether\n" +
			"Host *.tether\n" +
			"    ProxyCommand \"/x/\\$HOME \\`id\\` \\\"q\\\" \\\\/tether\" ssh-proxy %h %p\n"},
		{pattern: "", exe: "/bin/tether", err: "not an ssh Host pattern"},
		{pattern: "a\nHost *", exe: "/bin/tether", err: "not an ssh Host pattern"},
		{pattern: "*.tether", exe: "tether", err: "not an absolute path"},
		{pattern: "*.tether", exe: "/bin/te\nther", err: "holds a control character"},
	} {
		got, err := sshConfigBlock(tc.pattern, tc.exe, tc.config)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("sshConfigBlock(%q, %q) = %q, %v; want error %q", tc.pattern, tc.exe, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("sshConfigBlock(%q, %q, %q) =\n%s(%v), want\n%s", tc.pattern, tc.exe, tc.config, got, err, tc.want)
		}
	}
}

// The ProxyCommand a shell runs is the binary's path as one word, whatever it holds.
func TestSSHWordThroughShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/usr/bin/tether", "/opt/My Tools/tether", "/x/$HOME `id` \"q\" \\ 'it's'/tether"} {
		word, err := sshWord(path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sh, "-c", "printf %s "+word).Output()
		if err != nil || string(out) != path {
			t.Errorf("sh -c 'printf %%s %s' = %q, %v; want %q", word, out, err, path)
		}
	}
}

func TestSSHConfigCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bin dir", "tether")
	run := func(exe func() (string, error), args ...string) result {
		var stdout, stderr bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
			getenv: func(string) string { return "" }, executable: exe}
		code := a.main(t.Context(), args)
		return result{stdout.String(), stderr.String(), code}
	}
	found := func() (string, error) { return bin, nil }
	r := run(found, "ssh-config")
	want := "# Tether: ssh, scp, sftp and rsync reach instances through the broker, e.g. ssh user@web-1.tether\n" +
		"Host *.tether\n" +
		"    ProxyCommand \"" + bin + "\" ssh-proxy %h %p\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("exit %d, stdout\n%s, stderr %q; want\n%s", r.code, r.stdout, r.stderr, want)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	r = run(found, "--config", cfg, "ssh-config", "--pattern", "i-*")
	if r.code != 0 || !strings.Contains(r.stdout, "Host i-*\n") || !strings.Contains(r.stdout, " --config "+cfg+" ssh-proxy %h %p\n") {
		t.Errorf("exit %d, stdout\n%s, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(found, "ssh-config", "i-*")
	if r.code != 0 || !strings.Contains(r.stdout, "Host i-*\n") {
		t.Errorf("pattern argument: exit %d, stdout\n%s, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(found, "ssh-config", "--pattern", "a", "b")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "tether: --pattern a and the argument b name two things") {
		t.Errorf("two patterns: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(func() (string, error) { return "", errors.New("no /proc") }, "ssh-config")
	if r.code != 1 || r.stderr != "tether: find this tether binary: no /proc\n" {
		t.Errorf("no binary: exit %d, stderr %q", r.code, r.stderr)
	}
}
