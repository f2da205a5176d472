package output

import (
	"bytes"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tw := NewTable(&b, "ID", "TAGS")
	tw.Row("i-1", Map(map[string]string{"z": "1", "a": "2"}))
	tw.Row("i-22\x1b[2J", "")
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ID        TAGS\ni-1       a=2,z=1\ni-22?[2J  -\n"
	if got := b.String(); got != want {
		t.Errorf("table:\n%q\nwant\n%q", got, want)
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
		ok   bool
	}{{"table", Table, true}, {"JSON", JSON, true}, {"yaml", "", false}} {
		got, err := ParseFormat(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestTime(t *testing.T) {
	if got := Time(time.Time{}); got != "" {
		t.Errorf("Time(zero) = %q", got)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got, want := Time(ts), "2026-01-02T03:04:05Z"; got != want {
		t.Errorf("Time = %q, want %q", got, want)
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, clean, text string }{
		{"plain", "plain", "plain"},
		{"a\tb\nc", "a?b?c", "a\tb\nc"},
		{"line\r\nnext\rover", "line??next?over", "line\r\nnext?over"},
		{"\x1b[2Jé\x00", "?[2Jé?", "?[2Jé?"},
		{"end\r", "end?", "end?"},
	} {
		if got := Clean(tc.in); got != tc.clean {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.clean)
		}
		if got := CleanText(tc.in); got != tc.text {
			t.Errorf("CleanText(%q) = %q, want %q", tc.in, got, tc.text)
		}
	}
}
