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
