package output

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Format is how results are printed.
type Format string

// Formats.
const (
	Table Format = "table"
	JSON  Format = "json"
)

// ParseFormat reads a --output value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Table, JSON:
		return f, nil
	}
	return "", fmt.Errorf("output format %q: use table or json", s)
}

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// TableWriter prints rows aligned in columns under a header.
type TableWriter struct {
	tw *tabwriter.Writer
}

// NewTable starts a table with the given column headers.
func NewTable(w io.Writer, headers ...string) *TableWriter {
	t := &TableWriter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.Row(headers...)
	return t
}

// Row adds a row. Cells are cleaned of control characters, so a value coming from a
// managed node cannot break the layout or drive the terminal; empty cells print as "-".
func (t *TableWriter) Row(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		c = Clean(c)
		if c == "" {
			c = "-"
		}
		io.WriteString(t.tw, c)
	}
	io.WriteString(t.tw, "\n")
}

// Flush writes the table out.
func (t *TableWriter) Flush() error { return t.tw.Flush() }

// Clean replaces control characters (tabs and newlines included) with '?'.
func Clean(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// CleanText is Clean for multi-line text: it keeps newlines, tabs and the carriage
// return of a CRLF line ending, and replaces every other control character with '?'.
func CleanText(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case r == '\r' && strings.HasPrefix(s[i+1:], "\n"):
		case unicode.IsControl(r):
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Time formats a timestamp for a table, "" for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// Map formats a map as k=v pairs sorted by key, comma-separated.
func Map(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// List formats a list comma-separated.
func List(l []string) string { return strings.Join(l, ",") }
