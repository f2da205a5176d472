package fwd

import (
	"testing"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// The payload decoders read bytes a peer sent: they never panic, and what they accept
// encodes back to the same bytes.
func FuzzPayloads(f *testing.F) {
	f.Add(uint8(0), AppendOpen(nil, Open{ID: 1, Dest: 2, Peer: "127.0.0.1:5"}))
	f.Add(uint8(1), append(make([]byte, DataLen), 'x'))
	f.Add(uint8(2), AppendClose(nil, Close{ID: 3, Kind: Reset, Reason: "no"}))
	f.Add(uint8(3), AppendWindow(nil, 4, 5))
	f.Fuzz(func(t *testing.T, kind uint8, p []byte) {
		switch kind % 4 {
		case 0:
			if o, err := DecodeOpen(p); err == nil && string(AppendOpen(nil, o)) != string(p) {
				t.Fatalf("open %+v re-encodes differently", o)
			}
		case 1:
			if id, seq, d, err := DecodeData(p); err == nil {
				b := make([]byte, DataLen)
				PutData(b, id, seq)
				if string(append(b, d...)) != string(p) {
					t.Fatal("data re-encodes differently")
				}
			}
		case 2:
			if c, err := DecodeClose(p); err == nil && string(AppendClose(nil, c)) != string(p) {
				t.Fatalf("close %+v re-encodes differently", c)
			}
		case 3:
			if id, n, err := DecodeWindow(p); err == nil && string(AppendWindow(nil, id, n)) != string(p) {
				t.Fatal("window re-encodes differently")
			}
		}
	})
}

// A Mux fed arbitrary frames from its peer never panics and never blocks.
func FuzzHandle(f *testing.F) {
	f.Add(uint8(frame.FwdOpen), uint8(0), AppendOpen(nil, Open{ID: 1}))
	f.Add(uint8(frame.FwdData), uint8(0), append([]byte{0, 0, 0, 1, 0, 0, 0, 1}, "abc"...))
	f.Add(uint8(frame.FwdClose), uint8(0), AppendClose(nil, Close{ID: 1, Kind: CloseWrite}))
	f.Add(uint8(frame.Window), frame.FlagStream, AppendWindow(nil, 1, 10))
	f.Fuzz(func(t *testing.T, typ, flags uint8, p []byte) {
		m := NewMux(Config{Window: 4096, Send: func(frame.Type, uint8, []byte) error { return nil },
			Accept: func(c *Conn, o Open) { _ = c.Accept() }})
		defer m.Close("fuzz")
		_ = m.Handle(frame.Frame{Type: frame.FwdOpen, Payload: AppendOpen(nil, Open{ID: 1})})
		_ = m.Handle(frame.Frame{Type: frame.Type(typ), Flags: flags, Payload: p})
	})
}
