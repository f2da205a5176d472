package ship

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/streams/frame"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/subjects"
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
	sub := subjects.ForSession(se.Target, se.Owner, se.ID)
	filters := []string{sub.Out}
	if se.Recording != nil && se.Recording.RecordInput {
		filters = append(filters, sub.Rin)
	}
	cons, err := js.OrderedConsumer(ctx, jsdef.StreamTranscripts, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return transcript{}, fmt.Errorf("open transcript of %s: %w", se.ID, err)
	}
	defer jsdef.DeleteOrdered(js, jsdef.StreamTranscripts, cons)
	var out, in []seqFrame
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return transcript{}, fmt.Errorf("read transcript of %s: %w", se.ID, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return transcript{}, fmt.Errorf("read transcript of %s: %w", se.ID, err)
			}
			f, err := frame.Decode(m.Data())
			if err != nil {
				// The agent wrote it; a frame that does not decode is skipped, not fatal.
				continue
			}
			cf := cast.Frame{Time: md.Timestamp, Type: f.Type, Payload: f.Payload}
			if m.Subject() == sub.Rin {
				cf.Type = frame.Stdin
				in = append(in, seqFrame{f.Seq, cf})
			} else {
				out = append(out, seqFrame{f.Seq, cf})
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return transcript{}, fmt.Errorf("read transcript of %s: %w", se.ID, err)
		}
		if n == 0 {
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
