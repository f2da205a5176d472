package ship

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// transcript is a session's recorded frames, output and input, in the order they happened.
type transcript struct {
	frames []cast.Frame
	out    uint64 // output frames (the agent numbers them 1..n)
}

// readTranscript reads every frame the stream holds for se. Output frames are put in their
// sequence order (a frame the agent had to publish again is stored after later ones) and
// recorded input is merged in by time.
func readTranscript(ctx context.Context, js jetstream.JetStream, se api.Session) (transcript, error) {
	rd := newTranscriptReader(js, se)
	var out, in []seqFrame
	for {
		fs, more, err := rd.poll(ctx)
		if err != nil {
			return transcript{}, fmt.Errorf("read transcript of %s: %w", se.ID, err)
		}
		for _, f := range fs {
			if f.input {
				in = append(in, f.seqFrame)
			} else {
				out = append(out, f.seqFrame)
			}
		}
		if !more {
			break
		}
	}
	bySeq := func(a, b seqFrame) int { return cmp.Compare(a.seq, b.seq) }
	slices.SortFunc(out, bySeq)
	slices.SortFunc(in, bySeq)
	out = slices.CompactFunc(out, func(a, b seqFrame) bool { return a.seq == b.seq })
	in = slices.CompactFunc(in, func(a, b seqFrame) bool { return a.seq == b.seq })
	monotonic(out)
	monotonic(in)
	t := transcript{out: uint64(len(out))}
	// Merge by time, output first on a tie; within each direction the sequence order stands
	// (a retried frame keeps its place even though the stream stored it later).
	i, j := 0, 0
	for i < len(out) || j < len(in) {
		if j >= len(in) || i < len(out) && !in[j].f.Time.Before(out[i].f.Time) {
			t.frames = append(t.frames, out[i].f)
			i++
		} else {
			t.frames = append(t.frames, in[j].f)
			j++
		}
	}
	return t, nil
}

// seqFrame is a frame with the sequence number the agent gave it.
type seqFrame struct {
	seq uint64
	f   cast.Frame
}

// monotonic makes the frames' times non-decreasing: a frame stored late (published again
// after a refusal) takes the time of the one before it.
func monotonic(fs []seqFrame) {
	for i := 1; i < len(fs); i++ {
		if fs[i].f.Time.Before(fs[i-1].f.Time) {
			fs[i].f.Time = fs[i-1].f.Time
		}
	}
}

// transcriptReader reads one session's frames from the transcript stream as they are
// stored: its output subject and, when its input is recorded, its input subject, each by
// itself (a literal subject), merged back into stream order.
type transcriptReader struct {
	js      jetstream.JetStream
	sources []*transcriptSource
}

// transcriptSource is one subject of a session and the next stream sequence to read it from.
type transcriptSource struct {
	subject string
	input   bool
	next    uint64
}

// recordedFrame is a decoded frame of a session and the direction it was recorded in.
type recordedFrame struct {
	seqFrame
	input bool // recorded input (typed Stdin), not output
}

func newTranscriptReader(js jetstream.JetStream, se api.Session) *transcriptReader {
	sub := subjects.ForSession(se.Target, se.Owner, se.ID)
	rd := &transcriptReader{js: js, sources: []*transcriptSource{{subject: sub.Out, next: 1}}}
	if se.Recording != nil && se.Recording.RecordInput {
		rd.sources = append(rd.sources, &transcriptSource{subject: sub.Rin, input: true, next: 1})
	}
	return rd
}

// poll returns the frames stored since the last poll, in stream order, and whether more
// were stored already (poll again at once) rather than none (caught up). A frame that does
// not decode is skipped: the agent wrote it, and it must not stop the recording.
func (rd *transcriptReader) poll(ctx context.Context) ([]recordedFrame, bool, error) {
	pages := make([]page, len(rd.sources))
	more := false
	// A subject whose batch stopped short of its end bounds the others: past its last
	// message, a frame of another subject could come before one of its own not read yet.
	bound := uint64(math.MaxUint64)
	for i, src := range rd.sources {
		p, err := readPage(ctx, rd.js, jsdef.StreamTranscripts, src.subject, src.next)
		if err != nil {
			return nil, false, err
		}
		pages[i] = p
		if p.more {
			more = true
			bound = min(bound, p.msgs[len(p.msgs)-1].seq)
		}
	}
	var fs []recordedFrame
	for {
		// The earliest message not taken yet, of any subject, up to bound.
		pick := -1
		for i, p := range pages {
			if len(p.msgs) > 0 && p.msgs[0].seq <= bound && (pick < 0 || p.msgs[0].seq < pages[pick].msgs[0].seq) {
				pick = i
			}
		}
		if pick < 0 {
			break
		}
		m, src := pages[pick].msgs[0], rd.sources[pick]
		pages[pick].msgs = pages[pick].msgs[1:]
		src.next = m.seq + 1
		f, err := frame.Decode(m.data)
		if err != nil {
			continue
		}
		rf := recordedFrame{seqFrame{f.Seq, cast.Frame{Time: m.time, Type: f.Type, Payload: f.Payload}}, src.input}
		if src.input {
			rf.f.Type = frame.Stdin
		}
		fs = append(fs, rf)
	}
	return fs, more, nil
}
