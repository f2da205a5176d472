package cast

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tetherhq/tether/streams/ship/cast/casttest"
)

// TestAsciinemaCat checks that asciinema itself reads a rendered file: "asciinema cat"
// must print exactly the output, made valid UTF-8. asciinema (2.x, the Debian package) is
// required: CI installs it.
func TestAsciinemaCat(t *testing.T) {
	s := newSession(newRand(3), 1<<20)
	s.frames = append([]Frame{out(0, "<b>&amp;</b> \"q\" \\ \u2028 \x00\x7f \xc3"), out(1, "\xa9 \xff\n")}, s.frames...)
	raw := append([]byte("<b>&amp;</b> \"q\" \\ \u2028 \x00\x7f \xc3\xa9 \xff\n"), s.stdout...)
	r := render(t, Header{Width: 100, Height: 30, Timestamp: t0, Title: "<t>", Env: map[string]string{"TERM": "xterm"}}, s.frames...)
	path := filepath.Join(t.TempDir(), "session.cast")
	if err := os.WriteFile(path, []byte(r.cast), 0o600); err != nil {
		t.Fatal(err)
	}

	got := casttest.AsciinemaCat(t, path)
	if want := perByte(raw); got != want {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("asciinema cat printed %d bytes, want %d; first difference at byte %d:\n got %q\nwant %q",
			len(got), len(want), i, got[i:min(i+40, len(got))], want[i:min(i+40, len(want))])
	}
}
