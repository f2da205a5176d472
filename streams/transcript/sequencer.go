package transcript

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// Frame is one decoded frame of a transcript.
type Frame struct {
	frame.Frame
	// Time is when the stream stored it.
	Time time.Time
	// Stream is its stream sequence; 0 when the source does not say.
	Stream uint64
	// Input marks recorded input (its Type is then Stdin), numbered apart from output.
	Input bool
	// Raw is the frame's encoding as stored; Payload aliases it.
	Raw []byte
}

// Sequencer puts one direction's frames in their sequence order: a frame that comes before
// its place (one the agent had to publish again is stored after later ones) waits for the
// frames before it, and a frame whose place is taken already is a duplicate and dropped.
type Sequencer struct {
	next       uint64
	held       map[uint64]Frame
	duplicates int
}

// NewSequencer starts after frame after (0 for the start).
func NewSequencer(after uint64) *Sequencer {
	return &Sequencer{next: after + 1, held: map[uint64]Frame{}}
}

// Add takes f and appends to dst the frames that are now in their place, in order.
func (s *Sequencer) Add(dst []Frame, f Frame) []Frame {
	if f.Seq < s.next || f.Seq == math.MaxUint64 {
		s.duplicates++
		return dst
	}
	if _, ok := s.held[f.Seq]; ok {
		s.duplicates++
		return dst
	}
	if f.Seq != s.next {
		s.held[f.Seq] = f
		return dst
	}
	dst = append(dst, f)
	s.next++
	for {
		h, ok := s.held[s.next]
		if !ok {
			return dst
		}
		delete(s.held, s.next)
		dst = append(dst, h)
		s.next++
	}
}

// Flush appends to dst the frames still waiting, in order, across the gaps before them:
// for when nothing earlier can come any more.
func (s *Sequencer) Flush(dst []Frame) []Frame {
	for _, seq := range slices.Sorted(maps.Keys(s.held)) {
		dst = append(dst, s.held[seq])
		s.next = seq + 1
	}
	clear(s.held)
	return dst
}

// Last is the sequence number of the last frame handed out (after, if none).
func (s *Sequencer) Last() uint64 { return s.next - 1 }

// Held is the number of frames waiting for their place.
func (s *Sequencer) Held() int { return len(s.held) }

// Duplicates is the number of frames dropped because their place was taken.
func (s *Sequencer) Duplicates() int { return s.duplicates }

// heldFrom is the earliest stream sequence of a waiting frame, 0 if none waits.
func (s *Sequencer) heldFrom() uint64 {
	var from uint64
	for _, f := range s.held {
		if from == 0 || f.Stream < from {
			from = f.Stream
		}
	}
	return from
}
