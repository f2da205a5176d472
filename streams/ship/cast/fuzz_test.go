package cast

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic, and whatever it
// returns must be a well-formed event.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"version": 2, "width": 80, "height": 24, "timestamp": 1}` + "\n" + `[0.5, "o", "hi\u001b[0m"]` + "\n" + `[1, "r", "100x30"]`))
	f.Add([]byte(`{"version": 2, "width": 80, "height": 24}` + "\n\n" + `[1, "o"]`))
	f.Add([]byte(`{"version": 2, "width": 1, "height": 65535, "env": {"A": "\ud800"}}` + "\n" + "[1e308, \"i\", \"\xff\"]"))
	f.Add([]byte("{\"version\": 2}\n[]"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if h := rd.Header(); h.Width == 0 || h.Height == 0 {
			t.Fatalf("header accepted with size %dx%d", h.Width, h.Height)
		}
		for {
			ev, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "line ") {
					t.Fatalf("error %q does not name its line", err)
				}
				return
			}
			if ev.Time < 0 || ev.Code == "" || !utf8.ValidString(ev.Data) {
				t.Fatalf("bad event %+v", ev)
			}
		}
	})
}

// FuzzRender renders arbitrary output whole and cut at arbitrary points: every line must
// be valid UTF-8 JSON, and neither the output read back nor the log may depend on the cuts.
func FuzzRender(f *testing.F) {
	f.Add([]byte("caf\xc3\xa9 \xf0\x9f\x98\x80\r\n"), []byte{0, 4, 0, 9})
	f.Add([]byte("\x1b]0;t\xc3\xa9\x07\x1b[1;31mred\x1b[0m\bx\rz\n"), []byte{0, 2, 0, 5, 0, 1})
	f.Add([]byte("\xff\xfe\x00\xe2\x82A\xed\xa0\x80<&>"), []byte{0, 1, 0, 1, 0, 1})
	f.Add([]byte("\x1bPq\x1b\\\x1b(B\x1b[2K"), []byte{0, 1})
	f.Fuzz(func(t *testing.T, payload, cuts []byte) {
		whole := renderFuzz(t, [][]byte{payload})
		cut := renderFuzz(t, splitAt(payload, cuts))
		if whole.out != perByte(payload) {
			t.Fatalf("output %q, want %q", whole.out, perByte(payload))
		}
		if cut.out != whole.out {
			t.Fatalf("cut output %q differs from whole %q", cut.out, whole.out)
		}
		if cut.log != whole.log {
			t.Fatalf("cut log %q differs from whole %q", cut.log, whole.log)
		}
	})
}

type fuzzResult struct{ out, log string }

func renderFuzz(t *testing.T, parts [][]byte) fuzzResult {
	var frames []Frame
	for i, p := range parts {
		frames = append(frames, Frame{Time: at(i), Type: frame.Stdout, Payload: p})
	}
	r := render(t, Header{Timestamp: t0}, frames...)
	if !utf8.ValidString(r.cast) || !utf8.ValidString(r.log) {
		t.Fatal("output is not valid UTF-8")
	}
	lines := strings.Split(strings.TrimSuffix(r.cast, "\n"), "\n")
	for i, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Fatalf("cast line %d is not JSON: %q", i+1, line)
		}
	}
	_, data := readAll(t, r.cast)
	return fuzzResult{data["o"], r.log}
}
