package cast

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestIncompleteTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"a\xc3", 1},
		{"a\xc3\xa9", 3},
		{"\xe2\x82", 0},
		{"\xe2\x82\xac", 3},
		{"\xf0\x9f\x98", 0},
		{"x\xf0\x9f", 1},
		{"\xf0\x9f\x98\x80", 4},
		{"\xf0\x80", 2},         // F0 80 can never be valid: nothing to hold
		{"\xed\xa0", 2},         // a surrogate: never valid
		{"\xff", 1},             // never valid
		{"\x80\x80\x80", 3},     // continuation bytes alone
		{"\xe2\x82\xac\x80", 4}, // a complete character then a stray continuation
		{"\xc3\xc3", 1},
	} {
		if got := incompleteTail([]byte(tc.in)); got != tc.want {
			t.Errorf("incompleteTail(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestValidUTF8(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"héllo <&>", "héllo <&>"},
		{"a\xffb", "a\ufffdb"},
		{"\xe2\x82A", "\ufffd\ufffdA"}, // one U+FFFD per byte
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"},
		{"\xc3", "\ufffd"},
		{"\x00\x01", "\x00\x01"},
	} {
		if got := validUTF8([]byte(tc.in)); got != tc.want {
			t.Errorf("validUTF8(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := perByte([]byte(tc.in)); got != tc.want {
			t.Errorf("reference rule disagrees on %q: %q", tc.in, got)
		}
	}
}

func TestUTF8StreamSplits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"é split", []string{"\xc3", "\xa9"}, "é"},
		{"emoji 1+3", []string{"\xf0", "\x9f\x98\x80"}, "😀"},
		{"emoji 2+2", []string{"\xf0\x9f", "\x98\x80"}, "😀"},
		{"emoji 3+1", []string{"\xf0\x9f\x98", "\x80"}, "😀"},
		{"emoji 1+1+1+1", []string{"\xf0", "\x9f", "\x98", "\x80"}, "😀"},
		{"empty frame between", []string{"a\xc3", "", "\xa9b"}, "aéb"},
		{"split never completed", []string{"\xc3", "x"}, "\ufffdx"},
		{"held at the end", []string{"ok\xe2\x82"}, "ok\ufffd\ufffd"},
		{"invalid then split", []string{"\xff\xc3", "\xa9"}, "\ufffdé"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u utf8Stream
			var got strings.Builder
			for _, p := range tc.parts {
				s := u.text([]byte(p))
				if !utf8.ValidString(s) {
					t.Fatalf("text(%q) = %q: not valid UTF-8", p, s)
				}
				got.WriteString(s)
			}
			got.WriteString(u.flush())
			if got.String() != tc.want {
				t.Errorf("got %q, want %q", got.String(), tc.want)
			}
			if whole := perByte([]byte(strings.Join(tc.parts, ""))); whole != tc.want {
				t.Errorf("whole stream renders %q, want %q", whole, tc.want)
			}
		})
	}
}
