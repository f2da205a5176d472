package shell

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strings"
)

// FindShell returns the agent user's shell: $SHELL, else the user's entry in /etc/passwd,
// else /bin/bash, else /bin/sh. It fails when none of them is an executable file.
func FindShell() (string, error) {
	candidates := []string{os.Getenv("SHELL"), passwdShell("/etc/passwd", os.Getuid()), "/bin/bash", "/bin/sh"}
	for _, c := range candidates {
		if c != "" && isExecutable(c) {
			return c, nil
		}
	}
	return "", errors.New("no login shell found: $SHELL, /etc/passwd, /bin/bash and /bin/sh are all missing")
}

// LookCommand resolves argv[0] of a command the way exec does, without running it.
func LookCommand(argv []string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", errors.New("empty command")
	}
	p, err := exec.LookPath(argv[0])
	if err != nil {
		return "", fmt.Errorf("command %q not found: %w", argv[0], err)
	}
	return p, nil
}

// Unrunnable says, as a shell would, why argv cannot run when LookCommand (or Start)
// failed with err: exit status 127 and "NAME: command not found" for a command that does
// not exist, 126 and "NAME: Permission denied" for one that may not be executed. ok is
// false for any other failure.
func Unrunnable(argv []string, err error) (code int, msg string, ok bool) {
	if len(argv) == 0 || err == nil {
		return 0, "", false
	}
	name := argv[0]
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return 127, name + ": command not found", true
	case errors.Is(err, fs.ErrNotExist):
		return 127, name + ": No such file or directory", true
	case errors.Is(err, fs.ErrPermission):
		return 126, name + ": Permission denied", true
	}
	return 0, "", false
}

// HomeDir returns the agent user's home directory, or "/" when it has none.
func HomeDir() string {
	if h, err := os.UserHomeDir(); err == nil && isDir(h) {
		return h
	}
	if u, err := user.Current(); err == nil && isDir(u.HomeDir) {
		return u.HomeDir
	}
	return "/"
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// setEnv returns env with key set to value, replacing any earlier value.
func setEnv(env []string, key, value string) []string {
	prefix := key + "="
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return append(out, prefix+value)
}

// envDefault sets key only when env does not have it.
func envDefault(env []string, key, value string) []string {
	prefix := key + "="
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			return env
		}
	}
	return append(env, prefix+value)
}
