package cast

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/frame"
)

func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Header
		want string
	}{
		{"defaults", Header{Timestamp: time.Unix(1504467315, 999e6)},
			`{"version": 2, "width": 80, "height": 24, "timestamp": 1504467315}` + "\n"},
		{"full", Header{Width: 132, Height: 43, Timestamp: time.Unix(1504467315, 0),
			Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/zsh", "A": "<&>"}, Title: `alice@web-1 "prod"`},
			`{"version": 2, "width": 132, "height": 43, "timestamp": 1504467315, "env": {"A": "<&>", "SHELL": "/bin/zsh", "TERM": "xterm-256color"}, "title": "alice@web-1 \"prod\""}` + "\n"},
		{"empty env omitted", Header{Width: 1, Height: 1, Timestamp: time.Unix(0, 1), Env: map[string]string{}},
			`{"version": 2, "width": 1, "height": 1, "timestamp": 0}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(t, tc.h).cast; got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := NewRenderer(Header{}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("NewRenderer accepted a header without a timestamp")
	}
}

func TestEvents(t *testing.T) {
	errFrame := Frame{Time: at(5), Type: frame.Error, Payload: []byte("boom")}
	for _, tc := range []struct {
		name   string
		frames []Frame
		want   string
	}{
		{"output", []Frame{out(248, "\x1b[1;31mHello <b>&</b>\x1b[0m\r\n")},
			`[0.248000, "o", "\u001b[1;31mHello <b>&</b>\u001b[0m\r\n"]` + "\n"},
		{"stderr is output", []Frame{errOut(1, "e"), out(2, "o")},
			`[0.001000, "o", "e"]` + "\n" + `[0.002000, "o", "o"]` + "\n"},
		{"input", []Frame{in(1500, "ls\r")}, `[1.500000, "i", "ls\r"]` + "\n"},
		{"resize", []Frame{resize(0, 80, 24), resize(4050, 132, 43)},
			`[0.000000, "r", "80x24"]` + "\n" + `[4.050000, "r", "132x43"]` + "\n"},
		{"exit and error make no event", []Frame{out(1, "a"), errFrame, exit(6, 0)},
			`[0.001000, "o", "a"]` + "\n"},
		{"other types ignored", []Frame{{Time: at(1), Type: frame.Keepalive}, {Time: at(1), Type: frame.Window, Payload: frame.EncodeWindow(9)}}, ""},
		{"empty output", []Frame{out(1, "")}, ""},
		{"json escapes", []Frame{out(1, "\"\\\b\f\t\x00\x7f\u2028")},
			`[0.001000, "o", "\"\\\b\f\t\u0000` + "\x7f" + `\u2028"]` + "\n"},
		{"binary", []Frame{out(1, "\x00\x01\xfe\xff\x80")},
			`[0.001000, "o", "\u0000\u0001` + "\ufffd\ufffd\ufffd" + `"]` + "\n"},
		{"invalid per byte", []Frame{out(1, "\xe2\x82A")}, `[0.001000, "o", "` + "\ufffd\ufffdA" + `"]` + "\n"},
		{"é split", []Frame{out(1, "caf\xc3"), out(2, "\xa9!")},
			`[0.001000, "o", "caf"]` + "\n" + `[0.002000, "o", "é!"]` + "\n"},
		{"emoji 1+3", []Frame{out(1, "\xf0"), out(2, "\x9f\x98\x80")}, `[0.002000, "o", "😀"]` + "\n"},
		{"emoji 2+2", []Frame{out(1, "a\xf0\x9f"), out(2, "\x98\x80")},
			`[0.001000, "o", "a"]` + "\n" + `[0.002000, "o", "😀"]` + "\n"},
		{"emoji 3+1", []Frame{out(1, "\xf0\x9f\x98"), out(2, "\x80b")}, `[0.002000, "o", "😀b"]` + "\n"},
		{"split across other events", []Frame{out(1, "\xc3"), resize(2, 100, 30), in(3, "x"), out(4, "\xa9")},
			`[0.002000, "r", "100x30"]` + "\n" + `[0.003000, "i", "x"]` + "\n" + `[0.004000, "o", "é"]` + "\n"},
		{"held back per stream", []Frame{out(1, "\xc3"), errOut(2, "\xe2\x82"), out(3, "\xa9"), errOut(4, "\xac")},
			`[0.003000, "o", "é"]` + "\n" + `[0.004000, "o", "€"]` + "\n"},
		{"input split", []Frame{in(1, "\xc3"), in(2, "\xa9")}, `[0.002000, "i", "é"]` + "\n"},
		{"incomplete flushed at close", []Frame{out(1, "a\xc3"), in(2, "\xe2"), resize(3, 90, 20)},
			`[0.001000, "o", "a"]` + "\n" + `[0.003000, "r", "90x20"]` + "\n" +
				`[0.003000, "o", "` + "\ufffd" + `"]` + "\n" + `[0.003000, "i", "` + "\ufffd" + `"]` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := events(render(t, Header{Timestamp: t0}, tc.frames...).cast); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   []time.Time
		want []string
		dur  time.Duration
	}{
		{"microseconds", []time.Time{t0.Add(1234567891 * time.Nanosecond)}, []string{"1.234567"}, 1234567 * time.Microsecond},
		{"zero", []time.Time{t0}, []string{"0.000000"}, 0},
		{"before start clamps", []time.Time{t0.Add(-time.Hour), t0.Add(time.Millisecond)}, []string{"0.000000", "0.001000"}, time.Millisecond},
		{"never backwards", []time.Time{t0.Add(2 * time.Second), t0.Add(time.Second)}, []string{"2.000000", "2.000000"}, 2 * time.Second},
		{"hours", []time.Time{t0.Add(26*time.Hour + 5*time.Microsecond)}, []string{"93600.000005"}, 26*time.Hour + 5*time.Microsecond},
		{"zero time", []time.Time{{}}, []string{"0.000000"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frames []Frame
			var want strings.Builder
			for i, ts := range tc.at {
				frames = append(frames, Frame{Time: ts, Type: frame.Stdout, Payload: []byte("x")})
				want.WriteString("[" + tc.want[i] + `, "o", "x"]` + "\n")
			}
			r := render(t, Header{Timestamp: t0}, frames...)
			if got := events(r.cast); got != want.String() {
				t.Errorf("got\n%s\nwant\n%s", got, want.String())
			}
			if r.sum.Duration != tc.dur {
				t.Errorf("Duration = %v, want %v", r.sum.Duration, tc.dur)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	r := render(t, Header{Width: 100, Height: 30, Timestamp: t0},
		out(10, "hello \xc3"),
		errOut(20, "\xa9rr"),
		in(30, "typed"),
		resize(40, 120, 40),
		Frame{Time: at(45), Type: frame.Keepalive},
		exit(50, 3),
	)
	raw := "hello \xc3\xa9rr"
	sum := sha256.Sum256([]byte(raw))
	want := Summary{Frames: 6, OutputBytes: int64(len(raw)), OutputSHA256: hex.EncodeToString(sum[:]),
		InputBytes: 5, Duration: 50 * time.Millisecond, Width: 120, Height: 40}
	got := r.sum
	if got.Exit == nil || *got.Exit != (frame.ExitStatus{Code: 3, Reason: "exit"}) {
		t.Errorf("Exit = %+v", got.Exit)
	}
	got.Exit = nil
	if got != want {
		t.Errorf("Summary\n got %+v\nwant %+v", got, want)
	}
	// Stdout and stderr keep their own held-back bytes: C3 on stdout and A9 on stderr do not
	// join, and the C3 is flushed at Close.
	if want := "hello \ufffdrr\ufffd\n"; r.log != want {
		t.Errorf("log = %q, want %q", r.log, want)
	}
	if empty := render(t, Header{Timestamp: t0}); empty.sum.Width != 80 || empty.sum.Height != 24 ||
		empty.sum.OutputSHA256 != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || empty.sum.Exit != nil {
		t.Errorf("empty summary = %+v", empty.sum)
	}
}

func TestBadPayloads(t *testing.T) {
	var c, l bytes.Buffer
	r, err := NewRenderer(Header{Timestamp: t0}, &c, &l)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Frame{
		{Time: at(1), Type: frame.Resize, Payload: []byte{1}},
		resize(2, 0, 24),
		{Time: at(3), Type: frame.Exit, Payload: []byte{0}},
	} {
		if err := r.Add(f); !errors.Is(err, frame.ErrBadPayload) {
			t.Errorf("Add(%v %x) = %v, want ErrBadPayload", f.Type, f.Payload, err)
		}
	}
	if err := r.Add(out(4, "still fine")); err != nil {
		t.Fatalf("Add after a bad payload: %v", err)
	}
	sum, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Frames != 4 || sum.Width != 80 || sum.Exit != nil {
		t.Errorf("summary = %+v", sum)
	}
	if want := `[0.004000, "o", "still fine"]` + "\n"; events(c.String()) != want {
		t.Errorf("events = %q, want %q", events(c.String()), want)
	}
}

func TestClose(t *testing.T) {
	var c, l bytes.Buffer
	r, _ := NewRenderer(Header{Timestamp: t0}, &c, &l)
	if c.Len() != 0 {
		t.Errorf("wrote %d bytes before Close: the renderer should buffer", c.Len())
	}
	_ = r.Add(out(1, "x\xc3"))
	s1, err1 := r.Close()
	n := c.Len()
	s2, err2 := r.Close()
	if err1 != nil || err2 != nil || s1 != s2 || c.Len() != n {
		t.Errorf("second Close: %+v %v, first %+v %v, wrote %d more bytes", s2, err2, s1, err1, c.Len()-n)
	}
	if err := r.Add(out(2, "y")); err == nil {
		t.Error("Add after Close succeeded")
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return 0, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	big := strings.Repeat("y", 100<<10)
	for _, tc := range []struct {
		name      string
		cast, log *failWriter
		want      string
	}{
		{"cast", &failWriter{after: 10}, &failWriter{after: 1 << 30}, "write cast: disk full"},
		{"log", &failWriter{after: 1 << 30}, &failWriter{after: 10}, "write log: disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRenderer(Header{Timestamp: t0}, tc.cast, tc.log)
			if err != nil {
				t.Fatal(err)
			}
			var addErr error
			for i := 0; i < 3 && addErr == nil; i++ {
				addErr = r.Add(out(i, big+"\n"))
			}
			if addErr == nil || addErr.Error() != tc.want {
				t.Errorf("Add error = %v, want %q", addErr, tc.want)
			}
			if _, err := r.Close(); err == nil || err.Error() != tc.want {
				t.Errorf("Close error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	frames := randomSession(newRand(7), 1<<20)
	h := Header{Width: 120, Height: 40, Timestamp: t0, Title: "t",
		Env: map[string]string{"TERM": "xterm", "SHELL": "/bin/bash", "LANG": "C.UTF-8", "Z": "z", "A": "a"}}
	a := render(t, h, frames...)
	for range 3 {
		b := render(t, h, frames...)
		if a.cast != b.cast || a.log != b.log || a.sum.OutputSHA256 != b.sum.OutputSHA256 || *a.sum.Exit != *b.sum.Exit {
			t.Fatal("rendering the same frames twice gave different output")
		}
	}
}
