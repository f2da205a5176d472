package subjects

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"alice", true}, {"mi-0123abc", true}, {"a_b-C9", true},
		{"", false}, {"a.b", false}, {"*", false}, {">", false}, {"a b", false},
		{"-lead", false}, {"ünï", false},
		{"x123456789012345678901234567890123456789012345678901234567890123", true},
		{"x1234567890123456789012345678901234567890123456789012345678901234", false},
	} {
		if got := ValidName(tc.in) == nil; got != tc.ok {
			t.Errorf("ValidName(%q) ok = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestParts(t *testing.T) {
	c, v, ok := APIParts(API("alice", "StartSession"))
	if !ok || c != "alice" || v != "StartSession" {
		t.Fatalf("APIParts = %q %q %v", c, v, ok)
	}
	if _, _, ok := APIParts("tether.api.alice.x.y"); ok {
		t.Fatal("APIParts accepted 5 tokens")
	}
	a, k, ok := EnrollParts(Enroll("act1", "UKEY"))
	if !ok || a != "act1" || k != "UKEY" {
		t.Fatalf("EnrollParts = %q %q %v", a, k, ok)
	}
	s := ForSession("web-1", "alice", "alice-abc")
	if s.Out != "tether.s.web-1.alice.alice-abc.out" {
		t.Fatalf("Out = %q", s.Out)
	}
	if s.Rin != "tether.s.web-1.alice.alice-abc.rin" {
		t.Fatalf("Rin = %q", s.Rin)
	}
}

// matches reports whether subject s falls under the NATS pattern p.
func matches(p, s string) bool {
	pt, st := strings.Split(p, "."), strings.Split(s, ".")
	for i, tok := range pt {
		switch {
		case tok == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case tok != "*" && tok != st[i]:
			return false
		}
	}
	return len(pt) == len(st)
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if matches(p, s) {
			return true
		}
	}
	return false
}

func TestRecordedInputPermissions(t *testing.T) {
	own := ForSession("web-1", "alice", "alice-abc")
	other := ForSession("web-1", "bob", "bob-abc")
	if !matches(RecordedInput, own.Rin) || matches(RecordedInput, own.In) || matches(Transcripts, own.Rin) {
		t.Fatalf("RecordedInput %q and Transcripts %q do not split .rin from the rest", RecordedInput, Transcripts)
	}
	// No user, admin or not, may publish or read recorded input, their own included:
	// it is the record of what they typed.
	for _, admin := range []bool{false, true} {
		p := ForUser("alice", admin)
		for _, s := range []string{own.Rin, other.Rin} {
			if anyMatch(p.Publish, s) || anyMatch(p.Subscribe, s) {
				t.Errorf("ForUser(alice, admin=%v) reaches %s", admin, s)
			}
		}
	}
	a := ForAgent("web-1")
	if !anyMatch(a.Publish, own.Rin) || anyMatch(a.Subscribe, own.Rin) {
		t.Errorf("ForAgent(web-1) publish %v subscribe %v: want publish-only on %s", a.Publish, a.Subscribe, own.Rin)
	}
	if anyMatch(a.Publish, ForSession("web-2", "alice", "alice-abc").Rin) {
		t.Error("ForAgent(web-1) may publish another agent's recorded input")
	}
}

func TestValidSessionID(t *testing.T) {
	long := "u123456789012345678901234567890123456789012345678901234567890123" // 64: the longest name
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"alice-0123456789abcdef0123", true}, {long + "-0123456789abcdef0123", true},
		{"", false}, {"a.b", false}, {"a*", false}, {"-x", false},
	} {
		if got := ValidSessionID(tc.in) == nil; got != tc.ok {
			t.Errorf("ValidSessionID(%q) ok = %v, want %v", tc.in, got, tc.ok)
		}
	}
}
