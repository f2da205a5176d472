package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// Version is the only frame version this codec reads and writes.
	Version = 1
	// HeaderLen is the size of a frame header.
	HeaderLen = 16
	// MaxPayload bounds the payload a decoder accepts.
	MaxPayload = 1 << 20
	// ChunkSize is the largest data payload senders put in one frame.
	ChunkSize = 32 << 10
	// DefaultWindow is the credit window, in bytes, of each data direction.
	DefaultWindow = 2 << 20
)

// Type says what a frame carries.
type Type uint8

// Frame types. Values are part of the wire format: never renumber.
const (
	Stdin     Type = 1  // client → agent: bytes for the process's stdin
	Stdout    Type = 2  // agent → client: process output (the PTY's, for shells)
	Stderr    Type = 3  // agent → client: standard error of a non-interactive command
	Resize    Type = 4  // client → agent, echoed on out: terminal size (Size payload)
	Signal    Type = 5  // client → agent: a signal name such as "INT" or "TERM"
	Exit      Type = 6  // agent → client: the process ended (ExitStatus payload); last data frame
	Close     Type = 7  // either side: the sender closes its direction (stdin EOF from the client)
	Window    Type = 8  // receiver → sender: cumulative bytes consumed (uint64 payload)
	Keepalive Type = 9  // either side: no payload
	FwdOpen   Type = 10 // port forwarding: open a stream
	FwdData   Type = 11 // port forwarding: stream data
	FwdClose  Type = 12 // port forwarding: close a stream
	Error     Type = 13 // agent → client: a message explaining a failure
	// End: broker → client, on out: the session is over (ExitStatus payload: the exit
	// code, -1 when there is none, and "reason" or "reason: detail"). The broker decides
	// it; it is unnumbered (Seq 0), comes after every output frame the record holds, and
	// is not output: readers of the record skip it.
	End     Type = 14
	maxType Type = End
)

var typeNames = [...]string{"", "stdin", "stdout", "stderr", "resize", "signal", "exit", "close",
	"window", "keepalive", "fwd-open", "fwd-data", "fwd-close", "error", "end"}

func (t Type) String() string {
	if t >= 1 && t <= maxType {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// IsData reports whether frames of this type count against the credit window.
func (t Type) IsData() bool { return t == Stdin || t == Stdout || t == Stderr || t == FwdData }

// Frame is one decoded frame. Payload may alias the buffer it was decoded from.
// SignalPipe, in a Signal frame, says the client's own output broke (its reader went
// away, as `tether … | head` does): the agent closes the process's outputs, so the process
// meets a broken pipe as it would under ssh.
const SignalPipe = "PIPE"

// FlagRebase, on a Window frame from a client, says the client starts counting consumed
// output afresh: it resumed the session, and the count it carries (what it has consumed
// since) replaces the previous client's. The agent forgives what was outstanding.
const FlagRebase uint8 = 1

// FlagStream, on a Window frame, says it reports what one forwarded connection's receiver
// consumed (a streams/wire/fwd window payload), not the session's output or input.
// FlagAck, on a FwdOpen frame from the agent, says the connection it names is open.
const (
	FlagStream uint8 = 2
	FlagAck    uint8 = 1
)

type Frame struct {
	Type    Type
	Flags   uint8
	Seq     uint64
	Payload []byte
}

// Errors returned by Decode. They name what was wrong with the bytes.
var (
	ErrShort      = errors.New("frame: shorter than its header")
	ErrVersion    = errors.New("frame: unsupported version")
	ErrType       = errors.New("frame: unknown type")
	ErrReserved   = errors.New("frame: reserved byte is not zero")
	ErrTooLarge   = errors.New("frame: payload larger than MaxPayload")
	ErrTruncated  = errors.New("frame: payload truncated")
	ErrTrailing   = errors.New("frame: bytes after the payload")
	ErrBadPayload = errors.New("frame: malformed payload")
)

// PutHeader writes into b[:HeaderLen] the header of a frame of type t whose payload is
// b[HeaderLen:], so a sender that reads its payload into a buffer after HeaderLen free bytes
// sends it without a copy.
func PutHeader(b []byte, t Type, flags uint8, seq uint64) {
	b[0] = Version
	b[1] = byte(t)
	b[2] = flags
	b[3] = 0
	binary.BigEndian.PutUint64(b[4:12], seq)
	binary.BigEndian.PutUint32(b[12:16], uint32(len(b)-HeaderLen))
}

// Append appends the encoding of f to dst.
func Append(dst []byte, f Frame) []byte {
	var h [HeaderLen]byte
	h[0] = Version
	h[1] = byte(f.Type)
	h[2] = f.Flags
	binary.BigEndian.PutUint64(h[4:12], f.Seq)
	binary.BigEndian.PutUint32(h[12:16], uint32(len(f.Payload)))
	dst = append(dst, h[:]...)
	return append(dst, f.Payload...)
}

// Encode returns the encoding of f.
func Encode(f Frame) []byte { return Append(make([]byte, 0, HeaderLen+len(f.Payload)), f) }

// DecodeNext decodes the frame at the start of b and returns it with the number of bytes it
// used. The payload aliases b.
func DecodeNext(b []byte) (Frame, int, error) {
	if len(b) < HeaderLen {
		return Frame{}, 0, ErrShort
	}
	if b[0] != Version {
		return Frame{}, 0, fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	t := Type(b[1])
	if t < 1 || t > maxType {
		return Frame{}, 0, fmt.Errorf("%w %d", ErrType, b[1])
	}
	if b[3] != 0 {
		return Frame{}, 0, ErrReserved
	}
	n := binary.BigEndian.Uint32(b[12:16])
	if n > MaxPayload {
		return Frame{}, 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, n)
	}
	end := HeaderLen + int(n)
	if len(b) < end {
		return Frame{}, 0, fmt.Errorf("%w: have %d of %d bytes", ErrTruncated, len(b)-HeaderLen, n)
	}
	return Frame{Type: t, Flags: b[2], Seq: binary.BigEndian.Uint64(b[4:12]), Payload: b[HeaderLen:end:end]}, end, nil
}

// Decode decodes b, which must hold exactly one frame (one NATS message).
func Decode(b []byte) (Frame, error) {
	f, n, err := DecodeNext(b)
	if err != nil {
		return Frame{}, err
	}
	if n != len(b) {
		return Frame{}, fmt.Errorf("%w (%d)", ErrTrailing, len(b)-n)
	}
	return f, nil
}
