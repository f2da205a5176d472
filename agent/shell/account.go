package shell

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Account is a local user a session's process runs as.
type Account struct {
	Username string
	UID, GID uint32
	Groups   []uint32 // supplementary group ids
	Home     string   // home directory, as the user database has it
	// Shell is what a shell session starts: the user's login shell, or FindShell's when the
	// user has none that can be run (missing, or a nologin placeholder).
	Shell string
}

// passwdFile is the user database the login shell is read from.
const passwdFile = "/etc/passwd"

// LookupAccount looks up the local user name and checks that the agent can start processes
// as it: an agent that is not root can only run as itself.
func LookupAccount(name string) (*Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, ok := errors.AsType[user.UnknownUserError](err); ok {
			return nil, fmt.Errorf("run-as user %q does not exist on this instance", name)
		}
		return nil, fmt.Errorf("look up run-as user %q: %w", name, err)
	}
	a, err := accountOf(u, passwdFile)
	if err != nil {
		return nil, err
	}
	self, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("look up the agent's user: %w", err)
	}
	if err := checkRunAs(os.Geteuid(), self.Username, a); err != nil {
		return nil, err
	}
	return a, nil
}

func accountOf(u *user.User, passwd string) (*Account, error) {
	uid, err := parseID(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("run-as user %q: uid: %w", u.Username, err)
	}
	gid, err := parseID(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("run-as user %q: gid: %w", u.Username, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("run-as user %q: groups: %w", u.Username, err)
	}
	groups := make([]uint32, 0, len(ids))
	for _, id := range ids {
		g, err := parseID(id)
		if err != nil {
			return nil, fmt.Errorf("run-as user %q: group: %w", u.Username, err)
		}
		groups = append(groups, g)
	}
	sh := passwdShellOf(passwd, u.Username)
	if !loginShell(sh) {
		if sh, err = FindShell(); err != nil {
			return nil, err
		}
	}
	return &Account{Username: u.Username, UID: uid, GID: gid, Groups: groups, Home: u.HomeDir, Shell: sh}, nil
}

// checkRunAs refuses a user other than the agent's own when the agent is not root.
func checkRunAs(agentUID int, agentUser string, a *Account) error {
	if agentUID == 0 || uint32(agentUID) == a.UID {
		return nil
	}
	return fmt.Errorf("cannot run as %s: the agent runs as %s, not root", a.Username, agentUser)
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a numeric id", s)
	}
	return uint32(n), nil
}

// loginShell reports whether sh is a shell a session can start: an executable that is
// not a placeholder refusing logins.
func loginShell(sh string) bool {
	switch filepath.Base(sh) {
	case "nologin", "false":
		return false
	}
	return sh != "" && filepath.IsAbs(sh) && isExecutable(sh)
}

// credential is what the process must switch to, or nil when it runs as the agent's user.
func (a *Account) credential() *syscall.Credential {
	if a == nil || a.UID == uint32(os.Geteuid()) {
		return nil
	}
	return &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: a.Groups}
}

// dir is the user's home, or "/" when it does not exist.
func (a *Account) dir() string {
	if a.Home != "" && isDir(a.Home) {
		return a.Home
	}
	return "/"
}

// environ returns env with the variables that name the user set for a.
func (a *Account) environ(env []string) []string {
	env = setEnv(env, "HOME", a.Home)
	env = setEnv(env, "USER", a.Username)
	env = setEnv(env, "LOGNAME", a.Username)
	return setEnv(env, "SHELL", a.Shell)
}

// passwdShellOf reads the login shell of the user name from a passwd file; "" when unknown.
func passwdShellOf(path, name string) string {
	return passwdField(path, 0, name, 6)
}

// passwdShell reads the login shell of uid from a passwd file; "" when unknown.
func passwdShell(path string, uid int) string {
	return passwdField(path, 2, strconv.Itoa(uid), 6)
}

// passwdField returns field want of the first entry whose field key is value.
func passwdField(path string, key int, value string, want int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[key] == value {
			return fields[want]
		}
	}
	return ""
}
