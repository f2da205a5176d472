package cast

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReader(t *testing.T) {
	const file = `{"version": 2, "width": 100, "height": 30, "timestamp": 1504467315.5, "idle_time_limit": 2, "env": {"TERM": "xterm", "SHELL": null}, "title": "Demo"}
[0.248848, "o", "\u001b[1;31mHello <&>\u001b[0m\n"]

[1.5, "i", "ls\r"]
[2, "r", "80x24"]
[3.000001, "m", ""]
`
	rd, err := NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	h := rd.Header()
	if h.Width != 100 || h.Height != 30 || !h.Timestamp.Equal(time.Unix(1504467315, 5e8)) ||
		h.Title != "Demo" || h.Env["TERM"] != "xterm" || h.Env["SHELL"] != "" {
		t.Errorf("header = %+v", h)
	}
	want := []Event{
		{0.248848, "o", "\x1b[1;31mHello <&>\x1b[0m\n"},
		{1.5, "i", "ls\r"},
		{2, "r", "80x24"},
		{3.000001, "m", ""},
	}
	for i, w := range want {
		got, err := rd.Next()
		if err != nil || got != w {
			t.Fatalf("event %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	for range 2 {
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("after the last event: %v, want io.EOF", err)
		}
	}
}

func TestReaderHeaderErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty file"},
		{"not json", "hello\n", "line 1: header is not a JSON object"},
		{"array", "[2]\n", "line 1: header is not a JSON object"},
		{"v1", `{"version": 1, "width": 80, "height": 24}`, "line 1: asciicast version 1, want 2"},
		{"v3", `{"version": 3, "term": {"cols": 80, "rows": 24}}`, "line 1: asciicast version 3, want 2"},
		{"no version", `{"width": 80, "height": 24}`, "line 1: header has no version"},
		{"no width", `{"version": 2, "height": 24}`, "line 1: header has no width"},
		{"zero height", `{"version": 2, "width": 80, "height": 0}`, "line 1: header height 0 out of range"},
		{"huge width", `{"version": 2, "width": 70000, "height": 24}`, "line 1: header width 70000 out of range"},
		{"bad env", `{"version": 2, "width": 80, "height": 24, "env": {"A": 1}}`, "line 1: header: json"},
		{"bad timestamp", `{"version": 2, "width": 80, "height": 24, "timestamp": 1e300}`, "out of range"},
		{"trailing", `{"version": 2, "width": 80, "height": 24} x`, "line 1: header: invalid character"},
		{"too long", `{"version": 2, "width": 80, "title": "` + strings.Repeat("x", MaxLine) + `"}`, "line 1: longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewReader error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := NewReader(iotest.ErrReader(errors.New("boom"))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("read error = %v", err)
	}
}

func TestReaderEventErrors(t *testing.T) {
	const header = `{"version": 2, "width": 80, "height": 24}` + "\n" + `[0.1, "o", "ok"]` + "\n"
	for _, tc := range []struct{ name, line, want string }{
		{"not json", `[0.1, "o", "x"`, "line 3: event is not a JSON array"},
		{"object", `{"t": 1}`, "line 3: event is not a JSON array"},
		{"two elements", `[0.1, "o"]`, "line 3: event has 2 elements, want 3"},
		{"four elements", `[0.1, "o", "x", 1]`, "line 3: event has 4 elements, want 3"},
		{"negative time", `[-1, "o", "x"]`, "line 3: event time is -1"},
		{"string time", `["1", "o", "x"]`, `line 3: event time is "1"`},
		{"null time", `[null, "o", "x"]`, "line 3: event time is null"},
		{"empty code", `[1, "", "x"]`, "line 3: event code is"},
		{"numeric code", `[1, 5, "x"]`, "line 3: event code is 5"},
		{"object data", `[1, "o", {"a": 1}]`, "line 3: event data is an object"},
		{"bad resize", `[1, "r", "80*24"]`, `line 3: resize event "80*24" is not COLSxROWS`},
		{"zero resize", `[1, "r", "0x24"]`, "line 3: resize event"},
		{"trailing", `[1, "o", "x"] [2]`, "line 3: event is not a JSON array"},
		{"too long", `[1, "o", "` + strings.Repeat("x", MaxLine) + `"]`, "line 3: longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := NewReader(strings.NewReader(header + tc.line + "\n[9, \"o\", \"after\"]\n"))
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := rd.Next(); err != nil || ev.Data != "ok" {
				t.Fatalf("first event = %+v, %v", ev, err)
			}
			_, err = rd.Next()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Next error = %v, want one containing %q", err, tc.want)
			}
			if _, again := rd.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("error not sticky: then %v", again)
			}
		})
	}
}

func TestReaderCRLF(t *testing.T) {
	rd, err := NewReader(strings.NewReader("{\"version\": 2, \"width\": 80, \"height\": 24}\r\n[1, \"o\", \"a\"]\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := rd.Next(); err != nil || ev.Data != "a" {
		t.Errorf("event = %+v, %v", ev, err)
	}
}
