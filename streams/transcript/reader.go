package transcript

import (
	"context"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// Source pages through the stored messages of one session's transcript.
type Source interface {
	// Next returns the next page. after is the last output frame the reader has handed
	// out, for sources that read by frame (ReadTranscript) rather than by position.
	Next(ctx context.Context, after uint64) (Page, error)
}

// Stats count what a Reader left out.
type Stats struct {
	Malformed  int // messages that did not decode as one frame
	Duplicates int // frames whose place was taken already
}

// Batch is what one Read got.
type Batch struct {
	// Frames are the frames now in their place: each direction's in sequence order, in
	// the order they were released.
	Frames []Frame
	// Msgs is the number of messages the source returned.
	Msgs int
	// More says the source has more stored already: read again at once.
	More bool
	// Complete says the source knows the transcript ends here.
	Complete bool
}

// Reader reads a session's transcript from a Source: it decodes each message, skips (and
// counts) malformed frames, and hands out output and recorded input each in sequence order.
type Reader struct {
	src       Source
	out, in   *Sequencer
	malformed int
	pos       uint64 // the highest stream sequence read
}

// NewReader reads src, handing out output frames after frame after (0 for the start).
func NewReader(src Source, after uint64) *Reader {
	return &Reader{src: src, out: NewSequencer(after), in: NewSequencer(0)}
}

// Decode decodes a stored message as a transcript frame; recorded input is typed Stdin.
func Decode(m Msg) (Frame, error) {
	f, err := frame.Decode(m.Data)
	if err != nil {
		return Frame{}, err
	}
	if m.Input {
		f.Type = frame.Stdin
	}
	return Frame{Frame: f, Time: m.Time, Stream: m.Seq, Input: m.Input, Raw: m.Data}, nil
}

// Read reads one page from the source and returns the frames it put in their place.
// Errors of the source are returned as they are.
func (r *Reader) Read(ctx context.Context) (Batch, error) {
	p, err := r.src.Next(ctx, r.out.Last())
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Msgs: len(p.Msgs), More: p.More, Complete: p.Complete}
	for _, m := range p.Msgs {
		r.pos = max(r.pos, m.Seq)
		f, err := Decode(m)
		if err != nil {
			// The agent wrote it: it must not stop the reading.
			r.malformed++
			continue
		}
		if f.Type == frame.End {
			continue // the broker's note that the session ended: not output
		}
		if f.Input {
			b.Frames = r.in.Add(b.Frames, f)
		} else {
			b.Frames = r.out.Add(b.Frames, f)
		}
	}
	return b, nil
}

// Flush returns the frames still waiting for their place, output first, each direction in
// order across its gaps: for when nothing earlier can come any more.
func (r *Reader) Flush() []Frame { return r.in.Flush(r.out.Flush(nil)) }

// Last is the sequence number of the last output frame handed out.
func (r *Reader) Last() uint64 { return r.out.Last() }

// Held is the number of output frames waiting for their place.
func (r *Reader) Held() int { return r.out.Held() }

// Stats says what was left out so far.
func (r *Reader) Stats() Stats {
	return Stats{Malformed: r.malformed, Duplicates: r.out.Duplicates() + r.in.Duplicates()}
}

// ReadAll reads src to its end (a page without More, or Complete) and returns every frame,
// output then recorded input, each in sequence order across any gaps.
func ReadAll(ctx context.Context, src Source) ([]Frame, Stats, error) {
	r := NewReader(src, 0)
	var out, in []Frame
	for {
		b, err := r.Read(ctx)
		if err != nil {
			return nil, r.Stats(), err
		}
		for _, f := range b.Frames {
			if f.Input {
				in = append(in, f)
			} else {
				out = append(out, f)
			}
		}
		if !b.More || b.Complete {
			break
		}
	}
	for _, f := range r.Flush() {
		if f.Input {
			in = append(in, f)
		} else {
			out = append(out, f)
		}
	}
	return append(out, in...), r.Stats(), nil
}
