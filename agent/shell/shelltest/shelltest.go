// Package shelltest finds a local user that tests can run sessions as.
package shelltest

import (
	"os"
	"os/user"
	"testing"
)

// RunAsName is a user other than the tests' own when they run as root ("nobody"), else
// their own: an agent that is not root can only run sessions as itself, and that still
// goes through the run-as lookup.
func RunAsName() (string, error) {
	if os.Geteuid() == 0 {
		return "nobody", nil
	}
	self, err := user.Current()
	if err != nil {
		return "", err
	}
	return self.Username, nil
}

// RunAsUser is RunAsName looked up.
func RunAsUser(t testing.TB) *user.User {
	t.Helper()
	name, err := RunAsName()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// IsolateHome points HOME at a new, empty directory for the rest of the test binary and
// returns a function removing it. Shells that tests start as their own user then read no rc
// file of whoever runs the tests: a login shell sourcing a slow ~/.bashrc (a version
// manager waiting 60 s on a lock) would otherwise decide whether the tests pass. Call it
// from TestMain before m.Run.
func IsolateHome() (remove func(), err error) {
	dir, err := os.MkdirTemp("", "tether-test-home-")
	if err != nil {
		return nil, err
	}
	if err := os.Setenv("HOME", dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return func() { os.RemoveAll(dir) }, nil
}
