package fwd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// Payload layouts (big endian):
//
//	FwdOpen   id u32 | dest u16 | peer (UTF-8, at most MaxPeer bytes)
//	          from the agent with frame.FlagAck: the connection id is open (dest 0, no peer)
//	FwdData   id u32 | seq u32 | bytes   (seq: 1, 2, 3 … per connection and direction)
//	FwdClose  id u32 | kind u8 | reason (UTF-8, at most frame.MaxReason bytes)
//	Window    with frame.FlagStream: id u32 | consumed u64

// Lengths of the fixed parts of the payloads.
const (
	openLen   = 6
	DataLen   = 8 // the bytes before a FwdData payload's data
	closeLen  = 5
	windowLen = 12
	// MaxPeer bounds the peer address an Open carries.
	MaxPeer = 256
)

// CloseKind says how a FwdClose frame closes a connection.
type CloseKind uint8

const (
	// CloseWrite: the sender sends no more on this connection (its reader met EOF); it
	// still reads what the other side sends. TCP's half-close.
	CloseWrite CloseKind = 1
	// Reset: the connection is over both ways, at once; Reason says why.
	Reset CloseKind = 2
)

// Open is a FwdOpen payload.
type Open struct {
	ID   uint32
	Dest uint16
	Peer string
}

// Close is a FwdClose payload.
type Close struct {
	ID     uint32
	Kind   CloseKind
	Reason string
}

var errPayload = frame.ErrBadPayload

// AppendOpen appends o's payload to b.
func AppendOpen(b []byte, o Open) []byte {
	b = binary.BigEndian.AppendUint32(b, o.ID)
	b = binary.BigEndian.AppendUint16(b, o.Dest)
	return append(b, o.Peer...)
}

// DecodeOpen reads a FwdOpen payload.
func DecodeOpen(p []byte) (Open, error) {
	if len(p) < openLen {
		return Open{}, fmt.Errorf("%w: fwd-open payload is %d bytes, want at least %d", errPayload, len(p), openLen)
	}
	peer := p[openLen:]
	if len(peer) > MaxPeer || !utf8.Valid(peer) {
		return Open{}, fmt.Errorf("%w: fwd-open peer is not UTF-8 of at most %d bytes", errPayload, MaxPeer)
	}
	o := Open{ID: binary.BigEndian.Uint32(p), Dest: binary.BigEndian.Uint16(p[4:]), Peer: string(peer)}
	if o.ID == 0 {
		return Open{}, fmt.Errorf("%w: fwd-open of connection 0", errPayload)
	}
	return o, nil
}

// PutData writes the fixed part of a FwdData payload into b[:DataLen].
func PutData(b []byte, id, seq uint32) {
	binary.BigEndian.PutUint32(b, id)
	binary.BigEndian.PutUint32(b[4:], seq)
}

// DecodeData reads a FwdData payload; data aliases p.
func DecodeData(p []byte) (id, seq uint32, data []byte, err error) {
	if len(p) < DataLen {
		return 0, 0, nil, fmt.Errorf("%w: fwd-data payload is %d bytes, want at least %d", errPayload, len(p), DataLen)
	}
	id, seq = binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
	if id == 0 || seq == 0 {
		return 0, 0, nil, fmt.Errorf("%w: fwd-data of connection %d, number %d", errPayload, id, seq)
	}
	return id, seq, p[DataLen:], nil
}

// AppendClose appends c's payload to b; a reason longer than frame.MaxReason is cut.
func AppendClose(b []byte, c Close) []byte {
	b = binary.BigEndian.AppendUint32(b, c.ID)
	b = append(b, byte(c.Kind))
	r := c.Reason
	if len(r) > frame.MaxReason {
		r = r[:frame.MaxReason]
		for len(r) > 0 && !utf8.ValidString(r) {
			r = r[:len(r)-1]
		}
	}
	return append(b, r...)
}

// DecodeClose reads a FwdClose payload.
func DecodeClose(p []byte) (Close, error) {
	if len(p) < closeLen {
		return Close{}, fmt.Errorf("%w: fwd-close payload is %d bytes, want at least %d", errPayload, len(p), closeLen)
	}
	c := Close{ID: binary.BigEndian.Uint32(p), Kind: CloseKind(p[4])}
	if c.ID == 0 || (c.Kind != CloseWrite && c.Kind != Reset) {
		return Close{}, fmt.Errorf("%w: fwd-close of connection %d, kind %d", errPayload, c.ID, c.Kind)
	}
	r, err := frame.DecodeText(p[closeLen:])
	if err != nil {
		return Close{}, fmt.Errorf("fwd-close reason: %w", err)
	}
	c.Reason = r
	return c, nil
}

// AppendWindow appends a connection's window payload to b.
func AppendWindow(b []byte, id uint32, consumed uint64) []byte {
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint64(b, consumed)
}

// DecodeWindow reads a connection's window payload.
func DecodeWindow(p []byte) (id uint32, consumed uint64, err error) {
	if len(p) != windowLen {
		return 0, 0, fmt.Errorf("%w: stream window payload is %d bytes, want %d", errPayload, len(p), windowLen)
	}
	id = binary.BigEndian.Uint32(p)
	if id == 0 {
		return 0, 0, errors.Join(errPayload, errors.New("window of connection 0"))
	}
	return id, binary.BigEndian.Uint64(p[4:]), nil
}

// Is reports whether f belongs to port forwarding: a FwdOpen, FwdData or FwdClose frame,
// or a Window frame with frame.FlagStream.
func Is(f frame.Frame) bool {
	switch f.Type {
	case frame.FwdOpen, frame.FwdData, frame.FwdClose:
		return true
	case frame.Window:
		return f.Flags&frame.FlagStream != 0
	}
	return false
}
