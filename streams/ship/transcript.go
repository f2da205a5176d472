package ship

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/transcript"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// sessionTranscript is a session's recorded frames, output and input, in the order they
// happened.
type sessionTranscript struct {
	frames []cast.Frame
	out    uint64 // output frames (the agent numbers them 1..n)
}

// transcriptSource reads se's frames from the transcript stream: its output and, when its
// input is recorded, its input.
func transcriptSource(js jetstream.JetStream, se api.Session) *transcript.Direct {
	sub := subjects.ForSession(se.Target, se.Owner, se.ID)
	in := ""
	if se.Recording != nil && se.Recording.RecordInput {
		in = sub.Rin
	}
	return transcript.NewDirect(js, jsdef.StreamTranscripts, 1, sub.Out, in)
}

// readTranscript reads every frame the stream holds for se. Each direction comes in its
// sequence order (a frame the agent had to publish again is stored after later ones), and
// recorded input is merged into the output by time.
func readTranscript(ctx context.Context, js jetstream.JetStream, se api.Session) (sessionTranscript, error) {
	frames, _, err := transcript.ReadAll(ctx, transcriptSource(js, se))
	if err != nil {
		return sessionTranscript{}, fmt.Errorf("read transcript of %s: %w", se.ID, err)
	}
	var out, in []cast.Frame
	for _, f := range frames {
		cf := cast.Frame{Time: f.Time, Type: f.Type, Payload: f.Payload}
		if f.Input {
			in = append(in, cf)
		} else {
			out = append(out, cf)
		}
	}
	monotonic(out)
	monotonic(in)
	t := sessionTranscript{out: uint64(len(out)), frames: make([]cast.Frame, 0, len(frames))}
	// Merge by time, output first on a tie; within each direction the sequence order stands
	// (a retried frame keeps its place even though the stream stored it later).
	i, j := 0, 0
	for i < len(out) || j < len(in) {
		if j >= len(in) || i < len(out) && !in[j].Time.Before(out[i].Time) {
			t.frames = append(t.frames, out[i])
			i++
		} else {
			t.frames = append(t.frames, in[j])
			j++
		}
	}
	return t, nil
}

// monotonic makes the frames' times non-decreasing: a frame stored late (published again
// after a refusal) takes the time of the one before it.
func monotonic(fs []cast.Frame) {
	for i := 1; i < len(fs); i++ {
		if fs[i].Time.Before(fs[i-1].Time) {
			fs[i].Time = fs[i-1].Time
		}
	}
}
