package subjects

import "testing"

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
