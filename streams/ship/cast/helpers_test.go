package cast

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/frame"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns the time ms milliseconds into the session.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func out(ms int, s string) Frame { return Frame{Time: at(ms), Type: frame.Stdout, Payload: []byte(s)} }
func errOut(ms int, s string) Frame {
	return Frame{Time: at(ms), Type: frame.Stderr, Payload: []byte(s)}
}
func in(ms int, s string) Frame { return Frame{Time: at(ms), Type: frame.Stdin, Payload: []byte(s)} }
func resize(ms int, cols, rows uint16) Frame {
	return Frame{Time: at(ms), Type: frame.Resize, Payload: frame.EncodeSize(frame.Size{Cols: cols, Rows: rows})}
}
func exit(ms int, code int32) Frame {
	return Frame{Time: at(ms), Type: frame.Exit, Payload: frame.EncodeExit(frame.ExitStatus{Code: code, Reason: "exit"})}
}

// rendered is what render produced.
type rendered struct {
	cast, log string
	sum       Summary
}

// render renders frames under header h, failing the test on any error.
func render(t testing.TB, h Header, frames ...Frame) rendered {
	t.Helper()
	var c, l bytes.Buffer
	r, err := NewRenderer(h, &c, &l)
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	for i, f := range frames {
		if err := r.Add(f); err != nil {
			t.Fatalf("Add frame %d (%v): %v", i, f.Type, err)
		}
	}
	sum, err := r.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return rendered{c.String(), l.String(), sum}
}

// events returns the event lines of a cast, after its header.
func events(cast string) string {
	_, rest, _ := strings.Cut(cast, "\n")
	return rest
}

// readAll reads a cast back, returning the concatenated data of each event code.
func readAll(t testing.TB, cast string) (Header, map[string]string) {
	t.Helper()
	rd, err := NewReader(strings.NewReader(cast))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	data := map[string]*strings.Builder{}
	last := 0.0
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ev.Time < last {
			t.Fatalf("event time %v before %v", ev.Time, last)
		}
		last = ev.Time
		if data[ev.Code] == nil {
			data[ev.Code] = new(strings.Builder)
		}
		data[ev.Code].WriteString(ev.Data)
	}
	got := map[string]string{}
	for k, v := range data {
		got[k] = v.String()
	}
	return rd.Header(), got
}

// perByte is the reference UTF-8 rule: every invalid byte becomes one U+FFFD.
func perByte(b []byte) string { return string([]rune(string(b))) }

// splitAt cuts b into frames at the positions cuts says (taken mod len(b), in order).
func splitAt(b []byte, cuts []byte) [][]byte {
	var parts [][]byte
	for len(cuts) >= 2 && len(b) > 0 {
		n := int(binary.BigEndian.Uint16(cuts)) % (len(b) + 1)
		parts = append(parts, b[:n])
		b, cuts = b[n:], cuts[2:]
	}
	return append(parts, b)
}
