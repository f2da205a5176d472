package session

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	"github.com/tetherhq/tether/streams/wire/flow"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// FuzzOutput feeds arbitrary messages to the output handling of a client: it must never
// panic, and the delivered sequence number only grows.
func FuzzOutput(f *testing.F) {
	msg := func(fr frame.Frame) []byte {
		b := frame.Encode(fr)
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	}
	var seed []byte
	seed = append(seed, msg(frame.Frame{Type: frame.Stdout, Seq: 1, Payload: []byte("hi")})...)
	seed = append(seed, msg(frame.Frame{Type: frame.Stdout, Seq: 3, Payload: []byte("gap")})...)
	seed = append(seed, msg(frame.Frame{Type: frame.Error, Seq: 4, Payload: []byte("bad")})...)
	seed = append(seed, msg(frame.Frame{Type: frame.Exit, Seq: 5, Payload: []byte{0, 0}})...)
	f.Add(seed)
	f.Add(msg(frame.Frame{Type: frame.Exit, Seq: 1, Payload: frame.EncodeExit(frame.ExitStatus{Code: 2})}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &client{
			opts:    Options{Stdout: io.Discard, Stderr: io.Discard},
			log:     slog.New(slog.DiscardHandler),
			inWin:   flow.NewWindow(64),
			acker:   flow.NewAcker(64),
			stopped: true, // nothing can be sent: Window reports fail instead
		}
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			before := c.last
			_, done, _ := c.onOut(context.Background(), data[:n])
			c.onCtl(data[:n])
			if c.last < before {
				t.Fatalf("last went from %d back to %d", before, c.last)
			}
			if done {
				return
			}
			data = data[n:]
		}
	})
}
