package transcript

import (
	"bytes"
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// pages is a Source of fixed pages.
type pages []Page

func (p *pages) Next(context.Context, uint64) (Page, error) {
	if len(*p) == 0 {
		return Page{}, nil
	}
	next := (*p)[0]
	*p = (*p)[1:]
	next.More = len(*p) > 0
	return next, nil
}

// FuzzReader feeds arbitrary stored messages (an agent writes them) through the reader:
// it must not panic, must hand out each direction's frames in strictly increasing
// sequence order, each one as stored, and must account for every message.
func FuzzReader(f *testing.F) {
	enc := func(seq uint64, t frame.Type) []byte {
		return frame.Encode(frame.Frame{Type: t, Seq: seq, Payload: []byte("p")})
	}
	f.Add(bytes.Join([][]byte{enc(1, frame.Stdout), enc(3, frame.Stdout), enc(2, frame.Stdout), enc(2, frame.Stdout)}, nil), uint8(0))
	f.Add(bytes.Join([][]byte{enc(2, frame.Exit), []byte("junk"), enc(1, frame.Stdin)}, nil), uint8(0x55))
	f.Fuzz(func(t *testing.T, b []byte, inputMask uint8) {
		// Cut b into messages of varying lengths, three to a page.
		var ps pages
		var all []Msg
		for i := 0; len(b) > 0; i++ {
			n := min(len(b), frame.HeaderLen+int(b[0]%8))
			if i%4 == 3 {
				n = min(len(b), int(b[0])) // sometimes a message that does not end on a frame
			}
			m := Msg{Seq: uint64(i + 1), Data: b[:n], Input: inputMask&(1<<(i%8)) != 0}
			b = b[n:]
			all = append(all, m)
			if len(ps) == 0 || len(ps[len(ps)-1].Msgs) == 3 {
				ps = append(ps, Page{})
			}
			ps[len(ps)-1].Msgs = append(ps[len(ps)-1].Msgs, m)
		}
		r := NewReader(&ps, 0)
		var got []Frame
		for {
			batch, err := r.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, batch.Frames...)
			if !batch.More {
				break
			}
		}
		held := r.out.Held() + r.in.Held()
		got = append(got, r.Flush()...)
		var last [2]uint64
		for _, g := range got {
			dir := 0
			if g.Input {
				dir = 1
			}
			if g.Seq <= last[dir] {
				t.Fatalf("frame %d handed out after %d", g.Seq, last[dir])
			}
			last[dir] = g.Seq
			again, err := frame.Decode(g.Raw)
			if err != nil || again.Seq != g.Seq || !bytes.Equal(again.Payload, g.Payload) {
				t.Fatalf("frame %d does not match what was stored", g.Seq)
			}
		}
		st := r.Stats()
		if n := len(got) + st.Malformed + st.Duplicates; n != len(all) {
			t.Fatalf("%d handed out (%d of them held), %d malformed, %d duplicates: %d of %d messages", len(got), held, st.Malformed, st.Duplicates, n, len(all))
		}
	})
}

// FuzzStored feeds arbitrary header values (a publisher may add its own before the
// server's) to stored: it must not panic, and what it accepts never goes back nor is of
// another subject.
func FuzzStored(f *testing.F) {
	f.Add("7", "tether.s.a.b.c.out", "2026-01-02T03:04:05Z", "3", "99", uint64(7))
	f.Add("", "", "", "", "", uint64(1))
	f.Add("18446744073709551615", "x", "garbage", "-1", "0", uint64(0))
	f.Fuzz(func(t *testing.T, seq, subject, ts, pending, forgedSeq string, from uint64) {
		const want = "tether.s.a.b.c.out"
		h := nats.Header{}
		h.Add(jetstream.SequenceHeader, forgedSeq)
		h.Add(jetstream.SequenceHeader, seq)
		h.Add(jetstream.SubjectHeader, subject)
		h.Add(jetstream.TimeStampHeaer, ts)
		h.Add(numPendingHeader, pending)
		m, _, err := stored(&jetstream.RawStreamMsg{Header: h, Data: []byte("x")}, want, from)
		if err != nil {
			return
		}
		if m.Seq < from || m.Seq == 0 || m.Subject != want {
			t.Fatalf("accepted %+v reading %s from %d", m, want, from)
		}
	})
}
