package transcript

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Bounds of one ReadTranscript page, in frames.
const (
	DefaultPageFrames = 500
	MaxPageFrames     = 1000
)

// End is what the session's record says of its end.
type End struct {
	Ended     bool
	OutFrames uint64 // output frames the agent reported, when Ended
}

// Answer reads the page of the ReadTranscript answer to req from the stream: the output
// frames of subject after req.After, from the stream position req.Cursor on, in sequence
// order, at most req.Max frames (DefaultPageFrames when 0, at most MaxPageFrames) and
// maxBytes bytes of frames (one frame at least). A frame that comes before its place waits
// for it, unless the session has ended and the stream holds nothing more; the answer's
// Cursor never passes a frame not handed out, so the next page finds it.
func Answer(ctx context.Context, js jetstream.JetStream, stream, subject string, req api.ReadTranscriptRequest, end End, maxBytes int) (api.ReadTranscriptResponse, error) {
	limit := req.Max
	if limit <= 0 || limit > MaxPageFrames {
		limit = DefaultPageFrames
	}
	rd := NewReader(NewDirect(js, stream, req.Cursor+1, subject, ""), req.After)
	resp := api.ReadTranscriptResponse{Frames: []api.TranscriptFrame{}, Cursor: req.Cursor}
	last, size := req.After, 0
	cut := uint64(0) // the earliest stream sequence of a frame left for the next page
	for cut == 0 {
		b, err := rd.Read(ctx)
		if err != nil {
			return api.ReadTranscriptResponse{}, err
		}
		frames := b.Frames
		if !b.More && end.Ended {
			frames = append(frames, rd.Flush()...)
		}
		for _, f := range frames {
			if cut != 0 || len(resp.Frames) >= limit || len(resp.Frames) > 0 && size+len(f.Raw) > maxBytes {
				if cut == 0 || f.Stream < cut {
					cut = f.Stream
				}
				continue
			}
			resp.Frames = append(resp.Frames, api.TranscriptFrame{Time: f.Time, Frame: f.Raw})
			size += len(f.Raw)
			last = f.Seq
		}
		if !b.More {
			break
		}
	}
	// The cursor: past what was read, but before any frame not handed out yet.
	cursor := rd.pos
	if from := rd.out.heldFrom(); from != 0 && (cut == 0 || from < cut) {
		cut = from
	}
	if cut != 0 {
		cursor = cut - 1
	}
	resp.Cursor = max(req.Cursor, cursor)
	if end.Ended {
		resp.Complete = (end.OutFrames > 0 && last >= end.OutFrames) || (end.OutFrames == 0 && len(resp.Frames) < limit)
	}
	return resp, nil
}
