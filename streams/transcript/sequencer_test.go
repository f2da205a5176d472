package transcript

import (
	"math"
	"slices"
	"testing"

	"github.com/tetherhq/tether/streams/wire/frame"
)

func TestSequencer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		after     uint64
		in        []uint64
		got       []uint64 // handed out by Add
		flushed   []uint64 // handed out by Flush after
		dups      int
		heldAtEnd int
	}{
		{"in order", 0, []uint64{1, 2, 3}, []uint64{1, 2, 3}, nil, 0, 0},
		{"late frame waits for its place", 0, []uint64{1, 3, 4, 2, 5}, []uint64{1, 2, 3, 4, 5}, nil, 0, 0},
		{"duplicates dropped", 0, []uint64{1, 1, 2, 3, 2, 3}, []uint64{1, 2, 3}, nil, 3, 0},
		{"duplicate of a waiting frame", 0, []uint64{2, 2, 1}, []uint64{1, 2}, nil, 1, 0},
		{"after skips what the caller has", 5, []uint64{4, 5, 6, 7}, []uint64{6, 7}, nil, 2, 0},
		{"a gap holds what follows", 0, []uint64{1, 3, 4}, []uint64{1}, []uint64{3, 4}, 0, 2},
		{"flush across gaps in order", 0, []uint64{9, 4, 6}, nil, []uint64{4, 6, 9}, 0, 3},
		{"sequence zero is never in place", 0, []uint64{0, 1}, []uint64{1}, nil, 1, 0},
		{"the last sequence number cannot wrap", 0, []uint64{math.MaxUint64, 1}, []uint64{1}, nil, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSequencer(tc.after)
			var got []Frame
			for _, seq := range tc.in {
				got = s.Add(got, Frame{Frame: frame.Frame{Type: frame.Stdout, Seq: seq}})
			}
			if !slices.Equal(seqs(got), tc.got) {
				t.Errorf("added: got %v, want %v", seqs(got), tc.got)
			}
			if s.Held() != tc.heldAtEnd {
				t.Errorf("held %d, want %d", s.Held(), tc.heldAtEnd)
			}
			if s.Duplicates() != tc.dups {
				t.Errorf("duplicates %d, want %d", s.Duplicates(), tc.dups)
			}
			flushed := s.Flush(nil)
			if !slices.Equal(seqs(flushed), tc.flushed) {
				t.Errorf("flushed: got %v, want %v", seqs(flushed), tc.flushed)
			}
			if s.Held() != 0 {
				t.Errorf("held %d after Flush", s.Held())
			}
			// Whatever was handed out, a frame at or before it is a duplicate from now on.
			if last := s.Last(); last > 0 {
				before := s.Duplicates()
				if out := s.Add(nil, Frame{Frame: frame.Frame{Seq: last}}); len(out) != 0 || s.Duplicates() != before+1 {
					t.Errorf("frame %d again: handed out %v", last, seqs(out))
				}
			}
		})
	}
}
