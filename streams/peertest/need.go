package peertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// AllowMissingEnv, set to 1, turns a missing program into a skipped test instead of a
// failed one (for a developer machine without the Debian packages; never in CI).
const AllowMissingEnv = "TETHER_TEST_ALLOW_MISSING"

// Missing fails t (or skips it under AllowMissingEnv=1) for a program that is not
// installed, naming the Debian packages that bring it.
func Missing(t testing.TB, what, pkg string) {
	t.Helper()
	msg := fmt.Sprintf("%s not installed: apt-get install %s (.ci/run installs it)", what, pkg)
	if os.Getenv(AllowMissingEnv) == "1" {
		t.Skipf("%s; skipped because %s=1", msg, AllowMissingEnv)
	}
	t.Fatalf("%s; set %s=1 to skip instead", msg, AllowMissingEnv)
}

// Need returns the path of program name, on PATH or at one of the absolute paths given,
// or fails t naming the Debian package pkg (skips it under AllowMissingEnv=1). For the
// clients a test runs itself: Need(t, "rsync", "rsync"), Need(t, "curl", "curl").
func Need(t testing.TB, name, pkg string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, name, pkg)
	return ""
}

// pgBin returns the newest Debian PostgreSQL server directory holding the named
// programs (/usr/lib/postgresql/VERSION/bin), or fails t.
func pgBin(t testing.TB, names ...string) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Glob sorts lexically: "9.6" after "15"; pick the highest major number instead.
	best, bestMajor := "", -1
	for _, d := range dirs {
		var major int
		if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(d)), "%d", &major); err != nil {
			continue
		}
		ok := true
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(d, n)); err != nil {
				ok = false
			}
		}
		if ok && major > bestMajor {
			best, bestMajor = d, major
		}
	}
	if best == "" {
		Missing(t, "PostgreSQL server (/usr/lib/postgresql/*/bin/initdb, postgres)", "postgresql")
	}
	return best
}
