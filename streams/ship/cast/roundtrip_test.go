package cast

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/frame"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// randomOutput returns about n bytes of terminal output: text, multi-byte UTF-8, escape
// sequences, controls and binary.
func randomOutput(rng *rand.Rand, n int) []byte {
	pieces := []string{"hello ", "world\r\n", "é", "日本語", "😀", "\x1b[1;31m", "\x1b[0m", "\x1b]0;title é\x07",
		"\x1b]8;;http://x\x1b\\", "\x1bPdcs\x1b\\", "\x1b7", "\r", "\b", "\t", "\n", "<&>", "\"\\", "\u2028", "\x1b[K"}
	b := make([]byte, 0, n+64)
	for len(b) < n {
		if rng.IntN(8) == 0 { // a run of binary
			for range rng.IntN(64) {
				b = append(b, byte(rng.Uint32()))
			}
			continue
		}
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return b
}

// chunk cuts b into frames' payloads: mostly small, sometimes up to frame.ChunkSize.
func chunk(rng *rand.Rand, b []byte) [][]byte {
	var parts [][]byte
	for len(b) > 0 {
		n := 1 + rng.IntN(8)
		if rng.IntN(4) == 0 {
			n = 1 + rng.IntN(frame.ChunkSize)
		}
		n = min(n, len(b))
		parts = append(parts, b[:n])
		b = b[n:]
	}
	return parts
}

// session is a random recording with its raw streams.
type session struct {
	frames      []Frame
	stdout      []byte
	stdin       []byte
	resizes     int
	lastCols    uint16
	lastRows    uint16
	lastFrameAt time.Time
}

// randomSession returns the frames of a session with about n bytes of stdout, with input,
// resizes, errors and keepalives interleaved, and an exit at the end.
func randomSession(rng *rand.Rand, n int) []Frame { return newSession(rng, n).frames }

func newSession(rng *rand.Rand, n int) session {
	s := session{stdout: randomOutput(rng, n), stdin: randomOutput(rng, n/64), lastCols: 80, lastRows: 24}
	outs, ins := chunk(rng, s.stdout), chunk(rng, s.stdin)
	now := t0
	add := func(typ frame.Type, p []byte) {
		now = now.Add(time.Duration(rng.IntN(int(50 * time.Millisecond))))
		s.frames = append(s.frames, Frame{Time: now, Type: typ, Payload: p})
	}
	for len(outs) > 0 || len(ins) > 0 {
		switch k := rng.IntN(100); {
		case k < 85 && len(outs) > 0:
			add(frame.Stdout, outs[0])
			outs = outs[1:]
		case k < 95 && len(ins) > 0:
			add(frame.Stdin, ins[0])
			ins = ins[1:]
		case k < 97:
			s.lastCols, s.lastRows = uint16(1+rng.IntN(300)), uint16(1+rng.IntN(100))
			s.resizes++
			add(frame.Resize, frame.EncodeSize(frame.Size{Cols: s.lastCols, Rows: s.lastRows}))
		case k < 98:
			add(frame.Error, []byte("something <failed> & more"))
		default:
			add(frame.Keepalive, nil)
		}
	}
	add(frame.Exit, frame.EncodeExit(frame.ExitStatus{Code: 0, Reason: "exit"}))
	s.lastFrameAt = now
	return s
}

func TestRoundTrip(t *testing.T) {
	rng := newRand(1)
	s := newSession(rng, 4<<20)
	h := Header{Width: 80, Height: 24, Timestamp: t0, Env: map[string]string{"TERM": "xterm-256color"}, Title: "rt"}
	r := render(t, h, s.frames...)

	gotH, data := readAll(t, r.cast)
	if gotH.Width != 80 || gotH.Height != 24 || !gotH.Timestamp.Equal(t0) || gotH.Title != "rt" || gotH.Env["TERM"] != "xterm-256color" {
		t.Errorf("header read back = %+v", gotH)
	}
	if want := perByte(s.stdout); data["o"] != want {
		t.Errorf("output read back differs from the raw output rendered whole (%d vs %d bytes)", len(data["o"]), len(want))
	}
	if want := perByte(s.stdin); data["i"] != want {
		t.Errorf("input read back differs (%d vs %d bytes)", len(data["i"]), len(want))
	}
	if got := strings.Count(data["r"], "x"); got != s.resizes {
		t.Errorf("%d resizes read back, want %d", got, s.resizes)
	}
	sum := sha256.Sum256(s.stdout)
	if r.sum.OutputSHA256 != hex.EncodeToString(sum[:]) || r.sum.OutputBytes != int64(len(s.stdout)) ||
		r.sum.InputBytes != int64(len(s.stdin)) || r.sum.Frames != uint64(len(s.frames)) {
		t.Errorf("summary = %+v", r.sum)
	}
	if r.sum.Width != s.lastCols || r.sum.Height != s.lastRows || r.sum.Duration != s.lastFrameAt.Sub(t0).Truncate(time.Microsecond) {
		t.Errorf("summary size/duration = %dx%d %v, want %dx%d %v", r.sum.Width, r.sum.Height, r.sum.Duration,
			s.lastCols, s.lastRows, s.lastFrameAt.Sub(t0))
	}

	// The same output cut differently renders the same output and the same log.
	cut := func(seed uint64) rendered {
		var frames []Frame
		for _, p := range chunk(newRand(seed), s.stdout) {
			frames = append(frames, Frame{Time: t0, Type: frame.Stdout, Payload: p})
		}
		return render(t, h, frames...)
	}
	a, b := cut(2), cut(3)
	if _, d := readAll(t, a.cast); d["o"] != data["o"] {
		t.Error("output depends on how it was cut into frames")
	}
	if _, d := readAll(t, b.cast); d["o"] != data["o"] {
		t.Error("output depends on how it was cut into frames")
	}
	if a.log != b.log {
		t.Error("log depends on how the output was cut into frames")
	}
}
