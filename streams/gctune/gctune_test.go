package gctune

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	Apply()
	if got := debug.SetGCPercent(100); got != Percent {
		t.Fatalf("GC percent %d after Apply, want %d", got, Percent)
	}
	t.Setenv("GOGC", "50")
	Apply()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("Apply changed the GC percent to %d although GOGC is set", got)
	}
}
