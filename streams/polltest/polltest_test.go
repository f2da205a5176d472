package polltest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	n := 0
	if err := Wait(time.Second, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("Wait = %v after %d calls", err, n)
	}
	want := errors.New("never")
	if err := Wait(20*time.Millisecond, func() error { return want }); err != want {
		t.Fatalf("Wait = %v, want the last error", err)
	}
}

// recorder is a testing.TB that keeps what Errorf was told.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestReturns(t *testing.T) {
	r := &recorder{TB: t}
	Returns(r, time.Second, "a quick wait", func() {})
	if len(r.errs) != 0 {
		t.Fatalf("a wait that returned failed the test: %q", r.errs)
	}
	block := make(chan struct{})
	defer close(block)
	Returns(r, 20*time.Millisecond, "a stuck wait", func() { <-block })
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "a stuck wait did not return within 20ms") ||
		!strings.Contains(r.errs[0], "polltest.TestReturns") {
		t.Fatalf("a stuck wait reported %q, want its name and the goroutine it is in", r.errs)
	}
}
