package shell

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/agent/shell/shelltest"
)

func TestLookupAccount(t *testing.T) {
	u := shelltest.RunAsUser(t)
	a, err := LookupAccount(u.Username)
	if err != nil {
		t.Fatal(err)
	}
	if a.Username != u.Username || a.Home != u.HomeDir || a.Shell == "" || !loginShell(a.Shell) {
		t.Errorf("account %+v for user %+v", a, u)
	}
	if uid, _ := parseID(u.Uid); a.UID != uid {
		t.Errorf("uid %d, want %s", a.UID, u.Uid)
	}
	if gid, _ := parseID(u.Gid); a.GID != gid {
		t.Errorf("gid %d, want %s", a.GID, u.Gid)
	}

	_, err = LookupAccount("tether-no-such-user")
	if want := `run-as user "tether-no-such-user" does not exist on this instance`; err == nil || err.Error() != want {
		t.Errorf("missing user: %v, want %q", err, want)
	}
}

func TestCheckRunAs(t *testing.T) {
	bob := &Account{Username: "bob", UID: 1001}
	for _, tc := range []struct {
		name    string
		uid     int
		account *Account
		want    string
	}{
		{"root runs as anyone", 0, bob, ""},
		{"a user runs as itself", 1001, bob, ""},
		{"a user cannot run as another", 1000, bob, "cannot run as bob: the agent runs as alice, not root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRunAs(tc.uid, "alice", tc.account)
			if got := errString(err); got != tc.want {
				t.Errorf("checkRunAs = %q, want %q", got, tc.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAccountShell(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	fallback, err := FindShell()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ passwd, want string }{
		{"/bin/sh", "/bin/sh"},
		{"/usr/sbin/nologin", fallback},
		{"/bin/false", fallback},
		{filepath.Join(dir, "missing"), fallback},
		{"", fallback},
		{"sh", fallback}, // not a path
	} {
		pw := filepath.Join(dir, "passwd")
		entry := strings.Join([]string{u.Username, "x", u.Uid, u.Gid, "", u.HomeDir, tc.passwd}, ":")
		if err := os.WriteFile(pw, []byte("other:x:1:1::/:/bin/zsh\n"+entry+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := accountOf(u, pw)
		if err != nil {
			t.Fatal(err)
		}
		if a.Shell != tc.want {
			t.Errorf("login shell %q: account shell %q, want %q", tc.passwd, a.Shell, tc.want)
		}
	}
}

func TestStartAsAccount(t *testing.T) {
	u := shelltest.RunAsUser(t)
	a, err := LookupAccount(u.Username)
	if err != nil {
		t.Fatal(err)
	}
	want := a.Home
	if !isDir(want) {
		want = "/"
	}
	p, err := Start(Spec{Command: []string{"sh", "-c", `echo "$(id -un) $(id -u) $HOME $LOGNAME $(pwd)"`}, User: a})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := readAll(t, p.Stdout()); got != strings.Join([]string{u.Username, u.Uid, u.HomeDir, u.Username, want}, " ")+"\n" {
		t.Errorf("output %q", got)
	}
	if st := p.Wait(); st.Code != 0 {
		t.Errorf("status %+v, stderr %q", st, readAll(t, p.Stderr()))
	}
}
