package cast

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// Default terminal size, for a Header that gives none.
const (
	DefaultWidth  = 80
	DefaultHeight = 24
)

// Frame is one recorded frame: a transcript frame with the time the stream stored it.
type Frame struct {
	Time    time.Time
	Type    frame.Type // Stdout, Stderr, Resize, Exit, Error; Stdin for recorded input
	Payload []byte
}

// Header describes a recording.
type Header struct {
	Width, Height uint16            // initial terminal size (DefaultWidth, DefaultHeight if zero)
	Timestamp     time.Time         // session start; event times are relative to it
	Env           map[string]string // e.g. TERM, SHELL
	Title         string
}

// Summary describes what a Renderer rendered.
type Summary struct {
	Frames       uint64 // frames added, of every type
	OutputBytes  int64  // Stdout+Stderr payload bytes, raw
	OutputSHA256 string // hex SHA-256 of those raw bytes in order
	InputBytes   int64  // Stdin payload bytes, raw
	// Duration is the time of the last frame (of any type, as clamped for its event)
	// since Header.Timestamp.
	Duration      time.Duration
	Exit          *frame.ExitStatus // from the last Exit frame, if any
	Width, Height uint16            // final terminal size
}

// Renderer streams frames into an asciicast v2 file and a plain-text log. It is not safe
// for concurrent use.
type Renderer struct {
	start time.Time
	cast  *bufio.Writer
	log   textLog
	text  [3]utf8Stream // by stream
	strip [2]stripper   // stdout, stderr
	last  time.Duration
	sum   Summary
	hash  hash.Hash

	line   []byte
	strBuf bytes.Buffer
	enc    *json.Encoder

	err    error
	closed bool
}

// The streams a Renderer decodes.
const (
	streamStdout = iota
	streamStderr
	streamStdin
)

var errClosed = errors.New("cast: renderer is closed")

// NewRenderer returns a Renderer writing the recording to cast and the log to log, and
// writes the cast's header line. Header.Timestamp must be set. The Renderer buffers: the
// files are complete only once Close has returned.
func NewRenderer(h Header, cast, log io.Writer) (*Renderer, error) {
	if h.Timestamp.IsZero() {
		return nil, errors.New("cast: header has no timestamp")
	}
	if h.Width == 0 {
		h.Width = DefaultWidth
	}
	if h.Height == 0 {
		h.Height = DefaultHeight
	}
	r := &Renderer{
		start: h.Timestamp,
		cast:  bufio.NewWriterSize(cast, 64<<10),
		log:   textLog{w: bufio.NewWriterSize(log, 64<<10)},
		hash:  sha256.New(),
		sum:   Summary{Width: h.Width, Height: h.Height},
	}
	r.enc = json.NewEncoder(&r.strBuf)
	r.enc.SetEscapeHTML(false)
	r.cast.Write(r.appendHeader(r.line[:0], h))
	return r, nil
}

// appendHeader appends the header line, in the layout asciinema writes:
// {"version": 2, "width": 80, "height": 24, "timestamp": 1504467315, "env": {...}, "title": "..."}
func (r *Renderer) appendHeader(b []byte, h Header) []byte {
	b = append(b, `{"version": 2, "width": `...)
	b = strconv.AppendUint(b, uint64(h.Width), 10)
	b = append(b, `, "height": `...)
	b = strconv.AppendUint(b, uint64(h.Height), 10)
	b = append(b, `, "timestamp": `...)
	b = strconv.AppendInt(b, h.Timestamp.Unix(), 10)
	if len(h.Env) > 0 {
		b = append(b, `, "env": {`...)
		for i, k := range slices.Sorted(maps.Keys(h.Env)) {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = r.appendString(b, k)
			b = append(b, ": "...)
			b = r.appendString(b, h.Env[k])
		}
		b = append(b, '}')
	}
	if h.Title != "" {
		b = append(b, `, "title": `...)
		b = r.appendString(b, h.Title)
	}
	return append(b, "}\n"...)
}

// appendString appends s as a JSON string, escaping neither <, > nor &.
func (r *Renderer) appendString(b []byte, s string) []byte {
	r.strBuf.Reset()
	_ = r.enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(r.strBuf.Bytes(), []byte{'\n'})...)
}

// Add renders one frame. Frames of types other than Stdout, Stderr, Stdin, Resize, Exit
// and Error are counted and otherwise ignored. For a Resize or Exit frame whose payload is
// malformed, Add returns an error wrapping frame.ErrBadPayload; the frame is counted and
// otherwise ignored, and the Renderer stays usable. Any other error (from writing) is
// final.
func (r *Renderer) Add(f Frame) error {
	if r.closed {
		return errClosed
	}
	if r.err != nil {
		return r.err
	}
	r.sum.Frames++
	d := r.offset(f.Time)
	switch f.Type {
	case frame.Stdout, frame.Stderr:
		r.sum.OutputBytes += int64(len(f.Payload))
		r.hash.Write(f.Payload)
		i := streamStdout
		if f.Type == frame.Stderr {
			i = streamStderr
		}
		r.output(d, i, r.text[i].text(f.Payload))
	case frame.Stdin:
		r.sum.InputBytes += int64(len(f.Payload))
		r.event(d, "i", r.text[streamStdin].text(f.Payload))
	case frame.Resize:
		sz, err := frame.DecodeSize(f.Payload)
		if err == nil && (sz.Cols == 0 || sz.Rows == 0) {
			err = fmt.Errorf("%w: resize to %dx%d", frame.ErrBadPayload, sz.Cols, sz.Rows)
		}
		if err != nil {
			return fmt.Errorf("render frame %d: %w", r.sum.Frames, err)
		}
		r.sum.Width, r.sum.Height = sz.Cols, sz.Rows
		r.event(d, "r", fmt.Sprintf("%dx%d", sz.Cols, sz.Rows))
	case frame.Exit:
		e, err := frame.DecodeExit(f.Payload)
		if err != nil {
			return fmt.Errorf("render frame %d: %w", r.sum.Frames, err)
		}
		r.sum.Exit = &e
	case frame.Error:
		r.log.note(validUTF8(f.Payload))
	}
	return r.writeErr()
}

// output renders text of stream i (stdout or stderr).
func (r *Renderer) output(d time.Duration, i int, text string) {
	r.event(d, "o", text)
	r.strip[i].feed(text, &r.log)
}

// offset returns the event time of a frame stored at t, to the microsecond.
func (r *Renderer) offset(t time.Time) time.Duration {
	d := t.Sub(r.start).Truncate(time.Microsecond)
	if d > r.last {
		r.last = d
	}
	return r.last
}

// event writes one event line, unless data is empty.
func (r *Renderer) event(d time.Duration, code, data string) {
	if data == "" {
		return
	}
	b := append(r.line[:0], '[')
	b = appendSeconds(b, d)
	b = append(b, `, "`...)
	b = append(b, code...)
	b = append(b, `", `...)
	b = r.appendString(b, data)
	b = append(b, "]\n"...)
	r.cast.Write(b)
	r.line = b[:0]
}

// appendSeconds appends d, which is not negative, as seconds with six decimals.
func appendSeconds(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := us % 1e6
	b = append(b, '.')
	for m := int64(1e5); m > 0; m /= 10 {
		b = append(b, byte('0'+frac/m%10))
	}
	return b
}

func (r *Renderer) writeErr() error {
	if r.err == nil {
		r.err = writerErr(r.cast, "cast")
	}
	if r.err == nil {
		r.err = writerErr(r.log.w, "log")
	}
	return r.err
}

// writerErr returns the sticky error of w: bufio.Writer reports it on a write of nothing.
func writerErr(w *bufio.Writer, what string) error {
	if _, err := w.Write(nil); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// Close flushes the bytes held back (an incomplete UTF-8 sequence at the end of a stream
// becomes U+FFFD), ends the log's last line, flushes both files and returns the summary.
// Closing again returns the same.
func (r *Renderer) Close() (Summary, error) {
	if r.closed {
		return r.sum, r.err
	}
	r.closed = true
	if r.err != nil {
		return r.sum, r.err
	}
	r.output(r.last, streamStdout, r.text[streamStdout].flush())
	r.output(r.last, streamStderr, r.text[streamStderr].flush())
	r.event(r.last, "i", r.text[streamStdin].flush())
	r.log.close()
	r.sum.OutputSHA256 = hex.EncodeToString(r.hash.Sum(nil))
	r.sum.Duration = r.last
	if err := r.cast.Flush(); err != nil {
		r.err = fmt.Errorf("write cast: %w", err)
	} else if err := r.log.w.Flush(); err != nil {
		r.err = fmt.Errorf("write log: %w", err)
	}
	return r.sum, r.err
}
