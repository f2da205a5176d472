package cast

import (
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/frame"
)

func TestLog(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string // stdout frames
		want  string
	}{
		{"plain", []string{"hello\n"}, "hello\n"},
		{"last line ended at close", []string{"a\nb"}, "a\nb\n"},
		{"crlf", []string{"a\r\nb\r\n"}, "a\nb\n"},
		{"crlf split", []string{"a\r", "\nb"}, "a\nb\n"},
		{"lone cr overwrites", []string{"10%\r20%\r30%\n"}, "30%\n"},
		{"cr keeps the rest", []string{"That was ok\rThis\n"}, "This was ok\n"},
		{"cr then erase", []string{"Hello world\r\x1b[KBye\n"}, "Bye\n"},
		{"backspace", []string{"ab\bc\n"}, "ac\n"},
		{"backspace moves only", []string{"ab\b\n"}, "ab\n"},
		{"backspace erase", []string{"ab\b \b\n"}, "a\n"},
		{"backspace at start", []string{"\b\bx\n"}, "x\n"},
		{"backspace multibyte", []string{"né\bx\n"}, "nx\n"},
		{"readline insert", []string{"helo\b", "lo\b\n"}, "hello\n"},
		{"erase to start", []string{"abcdef\b\b\x1b[1Kx\n"}, "    xf\n"},
		{"erase line", []string{"abc\x1b[2Kd\n"}, "   d\n"},
		{"tab kept", []string{"a\tb\n"}, "a\tb\n"},
		{"sgr", []string{"\x1b[1;31mred\x1b[0m\n"}, "red\n"},
		{"csi split", []string{"a\x1b", "[3", "1mb\n"}, "ab\n"},
		{"csi private", []string{"\x1b[?25lx\x1b[?2004h\n"}, "x\n"},
		{"osc bel", []string{"\x1b]0;title\x07prompt$ \n"}, "prompt$\n"},
		{"osc st", []string{"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n"}, "link\n"},
		{"osc split", []string{"a\x1b]0;ti", "tle é", "\x1b", "\\b\n"}, "ab\n"},
		{"osc utf8 split", []string{"\x1b]0;\xc3", "\xa9\x07z\n"}, "z\n"},
		{"dcs", []string{"\x1bPq#0;2;0;0;0\x07still\x1b\\after\n"}, "after\n"},
		{"apc pm sos", []string{"\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\ok\n"}, "ok\n"},
		{"two-byte esc", []string{"\x1b7a\x1b8\x1b=\x1b>b\n"}, "ab\n"},
		{"esc with intermediate", []string{"\x1b(Bx\x1b#8\n"}, "x\n"},
		{"esc interrupts osc", []string{"\x1b]0;t\x1b[1mx\n"}, "x\n"},
		{"can aborts", []string{"\x1b[12\x18x\n"}, "x\n"},
		{"controls dropped", []string{"a\x00\x07\x7f\x0eb\u0085c\n"}, "abc\n"},
		{"utf8 kept", []string{"naïve 日本 😀\n"}, "naïve 日本 😀\n"},
		{"utf8 split", []string{"\xe6\x97", "\xa5\n"}, "日\n"},
		{"invalid bytes", []string{"a\xffb\n"}, "a\ufffdb\n"},
		{"trailing spaces", []string{"a   \n"}, "a\n"},
		{"blank lines", []string{"\n\n"}, "\n\n"},
		{"non-ascii ends csi", []string{"\x1b[1é\n"}, "é\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frames []Frame
			for i, p := range tc.parts {
				frames = append(frames, out(i, p))
			}
			if got := render(t, Header{Timestamp: t0}, frames...).log; got != tc.want {
				t.Errorf("log = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogStreamsAndNotes(t *testing.T) {
	got := render(t, Header{Timestamp: t0},
		out(0, "out \x1b[3"),
		errOut(1, "err\n"), // stderr has its own escape state
		out(2, "1mred\n"),
		in(3, "secret\n"), // input is not logged
		out(4, "partial"),
		Frame{Time: at(5), Type: frame.Error, Payload: []byte("agent lost\nsecond line\x07\n")},
		out(6, "\xc3"), // held back; flushed at close
	).log
	want := "out err\nred\npartial\n[tether] agent lost\n[tether] second line\n\ufffd\n"
	if got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func TestLogLongLine(t *testing.T) {
	s := strings.Repeat("x", maxLogLine+10)
	got := render(t, Header{Timestamp: t0}, out(0, s)).log
	want := strings.Repeat("x", maxLogLine) + "\n" + strings.Repeat("x", 10) + "\n"
	if got != want {
		t.Errorf("long line: got %d bytes, want %d", len(got), len(want))
	}
}
