package logsample

import (
	"fmt"
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	s := New(time.Minute)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	for i, tc := range []struct {
		key        string
		advance    time.Duration
		ok         bool
		suppressed int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"a", time.Second, false, 0},
		{"b", 0, true, 0},
		{"a", time.Minute, true, 2},
		{"a", time.Second, false, 0},
	} {
		now = now.Add(tc.advance)
		ok, n := s.Allow(tc.key)
		if ok != tc.ok || n != tc.suppressed {
			t.Errorf("%d: Allow(%q) = %v, %d; want %v, %d", i, tc.key, ok, n, tc.ok, tc.suppressed)
		}
	}
}

func TestBounded(t *testing.T) {
	s := New(time.Minute)
	for i := range 3 * maxKeys {
		s.Allow(fmt.Sprint(i))
	}
	if len(s.keys) > maxKeys {
		t.Fatalf("%d keys remembered; the bound is %d", len(s.keys), maxKeys)
	}
}
