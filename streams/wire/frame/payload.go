package frame

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Size is a terminal size, the payload of a Resize frame: cols then rows, uint16 each.
type Size struct{ Cols, Rows uint16 }

// EncodeSize returns the payload of a Resize frame.
func EncodeSize(s Size) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint16(b, s.Cols)
	binary.BigEndian.PutUint16(b[2:], s.Rows)
	return b
}

// DecodeSize reads a Resize payload.
func DecodeSize(p []byte) (Size, error) {
	if len(p) != 4 {
		return Size{}, fmt.Errorf("%w: resize payload is %d bytes, want 4", ErrBadPayload, len(p))
	}
	return Size{Cols: binary.BigEndian.Uint16(p), Rows: binary.BigEndian.Uint16(p[2:])}, nil
}

// ExitStatus is the payload of an Exit frame: the exit code (int32; -1 when the process
// was killed by a signal) followed by a UTF-8 reason such as "exit", "signal: killed" or
// "terminated by alice".
type ExitStatus struct {
	Code   int32
	Reason string
}

// MaxReason bounds the reason text of Exit, Error and Signal payloads.
const MaxReason = 1024

// EncodeExit returns the payload of an Exit frame.
func EncodeExit(e ExitStatus) []byte {
	r := e.Reason
	if len(r) > MaxReason {
		r = r[:MaxReason]
	}
	b := make([]byte, 4, 4+len(r))
	binary.BigEndian.PutUint32(b, uint32(e.Code))
	return append(b, r...)
}

// DecodeExit reads an Exit payload.
func DecodeExit(p []byte) (ExitStatus, error) {
	if len(p) < 4 {
		return ExitStatus{}, fmt.Errorf("%w: exit payload is %d bytes, want at least 4", ErrBadPayload, len(p))
	}
	r, err := DecodeText(p[4:])
	if err != nil {
		return ExitStatus{}, err
	}
	return ExitStatus{Code: int32(binary.BigEndian.Uint32(p)), Reason: r}, nil
}

// EncodeWindow returns the payload of a Window frame: total bytes consumed.
func EncodeWindow(consumed uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, consumed)
	return b
}

// DecodeWindow reads a Window payload.
func DecodeWindow(p []byte) (uint64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("%w: window payload is %d bytes, want 8", ErrBadPayload, len(p))
	}
	return binary.BigEndian.Uint64(p), nil
}

// DecodeText reads the UTF-8 text payload of a Signal or Error frame.
func DecodeText(p []byte) (string, error) {
	if len(p) > MaxReason {
		return "", fmt.Errorf("%w: text of %d bytes exceeds %d", ErrBadPayload, len(p), MaxReason)
	}
	if !utf8.Valid(p) {
		return "", fmt.Errorf("%w: text is not valid UTF-8", ErrBadPayload)
	}
	return string(p), nil
}
