package cast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxLine bounds a line of an asciicast file that Reader accepts.
const MaxLine = 16 << 20

// Event is one event of an asciicast v2 file: "o" output, "i" input, "r" resize
// ("COLSxROWS"), or another code a player may ignore ("m" marker).
type Event struct {
	Time float64 // seconds since the header's timestamp
	Code string
	Data string
}

// Reader reads an asciicast v2 file, an event at a time.
type Reader struct {
	sc   *bufio.Scanner
	h    Header
	line int
	err  error
}

// NewReader reads and validates the header of the asciicast v2 file r.
func NewReader(r io.Reader) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	rd := &Reader{sc: sc}
	line, err := rd.next()
	if err == io.EOF {
		return nil, errors.New("cast: empty file: no header")
	}
	if err != nil {
		return nil, err
	}
	if rd.h, err = parseHeader(line); err != nil {
		return nil, fmt.Errorf("cast: line %d: %w", rd.line, err)
	}
	return rd, nil
}

// Header returns the file's header. Width and Height are as the file has them; Timestamp
// is zero if the file has none.
func (r *Reader) Header() Header {
	h := r.h
	h.Env = maps.Clone(h.Env)
	return h
}

// Next returns the next event, or io.EOF after the last. Blank lines are skipped. Any other
// line that is not a valid event is an error naming its line number, and so is every call
// after it.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	for {
		line, err := r.next()
		if err != nil {
			r.err = err
			return Event{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev, err := parseEvent(line)
		if err != nil {
			r.err = fmt.Errorf("cast: line %d: %w", r.line, err)
			return Event{}, r.err
		}
		return ev, nil
	}
}

// next returns the next line, without its line ending.
func (r *Reader) next() ([]byte, error) {
	if r.sc.Scan() {
		r.line++
		return r.sc.Bytes(), nil
	}
	err := r.sc.Err()
	switch {
	case err == nil:
		return nil, io.EOF
	case errors.Is(err, bufio.ErrTooLong):
		return nil, fmt.Errorf("cast: line %d: longer than %d bytes", r.line+1, MaxLine)
	default:
		return nil, fmt.Errorf("cast: read line %d: %w", r.line+1, err)
	}
}

func parseHeader(line []byte) (Header, error) {
	var raw struct {
		Version   *int              `json:"version"`
		Width     *int              `json:"width"`
		Height    *int              `json:"height"`
		Timestamp *float64          `json:"timestamp"`
		Env       map[string]string `json:"env"`
		Title     string            `json:"title"`
	}
	if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
		return Header{}, errors.New("header is not a JSON object")
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Header{}, fmt.Errorf("header: %w", err)
	}
	switch {
	case raw.Version == nil:
		return Header{}, errors.New("header has no version")
	case *raw.Version != 2:
		return Header{}, fmt.Errorf("asciicast version %d, want 2", *raw.Version)
	}
	w, err := dimension("width", raw.Width)
	if err != nil {
		return Header{}, err
	}
	h, err := dimension("height", raw.Height)
	if err != nil {
		return Header{}, err
	}
	hd := Header{Width: w, Height: h, Env: raw.Env, Title: raw.Title}
	if ts := raw.Timestamp; ts != nil {
		if math.Abs(*ts) > 1<<40 {
			return Header{}, fmt.Errorf("header timestamp %v out of range", *ts)
		}
		sec := math.Floor(*ts)
		hd.Timestamp = time.Unix(int64(sec), int64((*ts-sec)*1e9)).UTC()
	}
	return hd, nil
}

func dimension(name string, v *int) (uint16, error) {
	switch {
	case v == nil:
		return 0, fmt.Errorf("header has no %s", name)
	case *v < 1 || *v > math.MaxUint16:
		return 0, fmt.Errorf("header %s %d out of range", name, *v)
	}
	return uint16(*v), nil
}

func parseEvent(line []byte) (Event, error) {
	var arr []any
	if err := json.Unmarshal(line, &arr); err != nil {
		return Event{}, fmt.Errorf("event is not a JSON array: %w", err)
	}
	if len(arr) != 3 {
		return Event{}, fmt.Errorf("event has %d elements, want 3", len(arr))
	}
	t, ok := arr[0].(float64)
	if !ok || t < 0 {
		return Event{}, fmt.Errorf("event time is %s, want seconds (a number, not negative)", describe(arr[0]))
	}
	code, ok := arr[1].(string)
	if !ok || code == "" {
		return Event{}, fmt.Errorf("event code is %s, want a non-empty string", describe(arr[1]))
	}
	data, ok := arr[2].(string)
	if !ok {
		return Event{}, fmt.Errorf("event data is %s, want a string", describe(arr[2]))
	}
	if code == "r" {
		if _, _, ok := parseSize(data); !ok {
			return Event{}, fmt.Errorf("resize event %q is not COLSxROWS", data)
		}
	}
	return Event{Time: t, Code: code, Data: data}, nil
}

// parseSize parses the data of a resize event, "COLSxROWS".
func parseSize(s string) (cols, rows uint16, ok bool) {
	c, r, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	cn, err1 := strconv.ParseUint(c, 10, 16)
	rn, err2 := strconv.ParseUint(r, 10, 16)
	if err1 != nil || err2 != nil || cn == 0 || rn == 0 {
		return 0, 0, false
	}
	return uint16(cn), uint16(rn), true
}

// describe names a decoded JSON value for an error message, briefly.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "an array"
	default:
		return "an object"
	}
}
