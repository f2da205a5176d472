package frame

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Type: Stdout, Seq: 1, Payload: []byte("hello")},
		{Type: Stdin, Seq: 1 << 40, Payload: bytes.Repeat([]byte{0xff}, ChunkSize)},
		{Type: Close, Seq: 7},
		{Type: Window, Seq: 2, Payload: EncodeWindow(123456)},
		{Type: Exit, Flags: 3, Seq: 9, Payload: EncodeExit(ExitStatus{Code: -1, Reason: "signal: killed"})},
	} {
		got, err := Decode(Encode(f))
		if err != nil {
			t.Fatalf("Decode(Encode(%v)): %v", f.Type, err)
		}
		if got.Type != f.Type || got.Flags != f.Flags || got.Seq != f.Seq || !bytes.Equal(got.Payload, f.Payload) {
			t.Errorf("round trip %v: got %+v", f.Type, got)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Encode(Frame{Type: Stdout, Seq: 1, Payload: []byte("abc")})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"short", good[:5], ErrShort},
		{"version", mut(func(b []byte) []byte { b[0] = 2; return b }), ErrVersion},
		{"type zero", mut(func(b []byte) []byte { b[1] = 0; return b }), ErrType},
		{"type high", mut(func(b []byte) []byte { b[1] = 200; return b }), ErrType},
		{"reserved", mut(func(b []byte) []byte { b[3] = 1; return b }), ErrReserved},
		{"too large", mut(func(b []byte) []byte { b[12] = 0xff; return b }), ErrTooLarge},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"trailing", append(append([]byte(nil), good...), 0), ErrTrailing},
	} {
		if _, err := Decode(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPayloads(t *testing.T) {
	s, err := DecodeSize(EncodeSize(Size{Cols: 132, Rows: 43}))
	if err != nil || s != (Size{132, 43}) {
		t.Fatalf("size = %v, %v", s, err)
	}
	if _, err := DecodeSize([]byte{1}); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("short size: %v", err)
	}
	e, err := DecodeExit(EncodeExit(ExitStatus{Code: 42, Reason: "exit"}))
	if err != nil || e.Code != 42 || e.Reason != "exit" {
		t.Fatalf("exit = %+v, %v", e, err)
	}
	if _, err := DecodeExit([]byte{0, 0, 0, 1, 0xff}); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("invalid utf8 exit: %v", err)
	}
	if w, err := DecodeWindow(EncodeWindow(1 << 33)); err != nil || w != 1<<33 {
		t.Fatalf("window = %d, %v", w, err)
	}
}

// The End frame is a type of its own, named in logs, and decodes; a type past it does not.
func TestEndType(t *testing.T) {
	if End.String() != "end" || Error.String() != "error" {
		t.Fatalf("names: %q, %q", End.String(), Error.String())
	}
	b := Encode(Frame{Type: End, Payload: EncodeExit(ExitStatus{Code: -1, Reason: "agent_lost: no heartbeat"})})
	f, err := Decode(b)
	if err != nil || f.Type != End || f.Seq != 0 {
		t.Fatalf("Decode(End) = %+v, %v", f, err)
	}
	if st, err := DecodeExit(f.Payload); err != nil || st.Code != -1 || st.Reason != "agent_lost: no heartbeat" {
		t.Fatalf("End status = %+v, %v", st, err)
	}
	b[1] = byte(End + 1) // the type byte
	if _, err := Decode(b); err == nil {
		t.Fatal("a frame of an unknown type decoded")
	}
}
