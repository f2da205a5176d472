package transcript

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// pageSeqs decodes the frame sequence numbers of an answer.
func pageSeqs(t *testing.T, resp api.ReadTranscriptResponse) []uint64 {
	t.Helper()
	var out []uint64
	for _, tf := range resp.Frames {
		f, err := frame.Decode(tf.Frame)
		if err != nil {
			t.Fatalf("answer holds a malformed frame: %v", err)
		}
		out = append(out, f.Seq)
	}
	return out
}

// Pages follow one another by After and Cursor: every frame once, in order, even one the
// agent published again after later ones and that falls behind a page's end.
func TestAnswerPagesInOrder(t *testing.T) {
	js := jetStream(t)
	out := subjects.ForSession("web-1", "alice", "alice-1").Out
	other := subjects.ForSession("web-1", "alice", "alice-2").Out
	for _, seq := range []uint64{1, 2, 3, 5, 6, 4, 7, 8, 8, 9, 10} {
		publishFrame(t, js, out, seq, "x")
		publishFrame(t, js, other, seq, "y")
	}
	publish(t, js, natsMsg(out, []byte("garbage")))
	end := End{Ended: true, OutFrames: 10}
	req := api.ReadTranscriptRequest{SessionID: "alice-1", Max: 3}
	var got []uint64
	var pages [][]uint64
	for range 10 {
		resp, err := Answer(t.Context(), js, jsdef.StreamTranscripts, out, req, end, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		p := pageSeqs(t, resp)
		pages = append(pages, p)
		got = append(got, p...)
		if len(p) > 3 {
			t.Fatalf("page of %d frames, asked for 3", len(p))
		}
		if resp.Cursor < req.Cursor {
			t.Fatalf("cursor went back from %d to %d", req.Cursor, resp.Cursor)
		}
		if len(p) > 0 {
			req.After = p[len(p)-1]
		}
		req.Cursor = resp.Cursor
		if resp.Complete {
			break
		}
	}
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("read %v in pages %v, want %v", got, pages, want)
	}
}

// While the session runs, a frame after a gap waits for the missing one; once the session
// has ended and the stream holds no more, the gap is given up.
func TestAnswerWaitsAtGapUntilEnd(t *testing.T) {
	js := jetStream(t)
	out := subjects.ForSession("web-1", "alice", "alice-1").Out
	publishFrame(t, js, out, 1, "a")
	publishFrame(t, js, out, 3, "c")
	read := func(req api.ReadTranscriptRequest, end End) api.ReadTranscriptResponse {
		t.Helper()
		resp, err := Answer(t.Context(), js, jsdef.StreamTranscripts, out, req, end, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	running := End{}
	resp := read(api.ReadTranscriptRequest{}, running)
	if got := pageSeqs(t, resp); !slices.Equal(got, []uint64{1}) || resp.Complete {
		t.Fatalf("running, with 2 missing: %v, complete %v", got, resp.Complete)
	}
	// Frame 2 comes late: the next page, from the cursor, finds both.
	publishFrame(t, js, out, 2, "b")
	resp = read(api.ReadTranscriptRequest{After: 1, Cursor: resp.Cursor}, running)
	if got := pageSeqs(t, resp); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after frame 2 came: %v", got)
	}
	// A gap that never fills: 5 is lost, the session ended with 6 frames.
	publishFrame(t, js, out, 4, "d")
	publishFrame(t, js, out, 6, "f")
	req := api.ReadTranscriptRequest{After: 3, Cursor: resp.Cursor}
	if resp := read(req, running); !slices.Equal(pageSeqs(t, resp), []uint64{4}) {
		t.Fatalf("running, with 5 missing: %v", pageSeqs(t, resp))
	}
	resp = read(req, End{Ended: true, OutFrames: 6})
	if got := pageSeqs(t, resp); !slices.Equal(got, []uint64{4, 6}) || !resp.Complete {
		t.Fatalf("ended, with 5 lost: %v, complete %v", got, resp.Complete)
	}
}

// A page holds at most maxBytes of frames, and at least one frame.
func TestAnswerBoundsBytes(t *testing.T) {
	js := jetStream(t)
	out := subjects.ForSession("web-1", "alice", "alice-1").Out
	payload := strings.Repeat("z", 100)
	for seq := range uint64(10) {
		publishFrame(t, js, out, seq+1, payload)
	}
	size := frame.HeaderLen + len(payload)
	req := api.ReadTranscriptRequest{}
	var sizes []int
	for range 20 {
		resp, err := Answer(t.Context(), js, jsdef.StreamTranscripts, out, req, End{Ended: true, OutFrames: 10}, 3*size+size/2)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(resp.Frames))
		if p := pageSeqs(t, resp); len(p) > 0 {
			req.After = p[len(p)-1]
		}
		req.Cursor = resp.Cursor
		if resp.Complete {
			break
		}
	}
	if want := []int{3, 3, 3, 1}; !slices.Equal(sizes, want) {
		t.Fatalf("pages of %v frames, want %v", sizes, want)
	}
	// A frame larger than the bound comes alone.
	resp, err := Answer(t.Context(), js, jsdef.StreamTranscripts, out, api.ReadTranscriptRequest{}, End{}, 10)
	if err != nil || len(resp.Frames) != 1 {
		t.Fatalf("bound below one frame: %d frames, %v", len(resp.Frames), err)
	}
}

// The two halves of ReadTranscript meet: a Reader over the API, answered by Answer, reads
// the same frames as a Reader straight from the stream, however small the pages.
func TestAPIReadsWhatAnswerServes(t *testing.T) {
	js := jetStream(t)
	out := subjects.ForSession("web-1", "alice", "alice-1").Out
	order := []uint64{1, 2, 4, 5, 3, 6, 6, 8, 9, 7, 10, 11, 12}
	for _, seq := range order {
		publishFrame(t, js, out, seq, strings.Repeat("x", int(seq)))
	}
	publish(t, js, natsMsg(out, []byte("garbage")))
	end := End{Ended: true, OutFrames: 12}
	want, _, err := ReadAll(t.Context(), NewDirect(js, jsdef.StreamTranscripts, 1, out, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, max := range []int{1, 2, 5, 500} {
		calls := 0
		src := NewAPI("alice-1", max, func(ctx context.Context, req api.ReadTranscriptRequest) (api.ReadTranscriptResponse, error) {
			calls++
			return Answer(ctx, js, jsdef.StreamTranscripts, out, req, end, 1<<20)
		})
		rd := NewReader(src, 0)
		var got []Frame
		for calls < 100 {
			b, err := rd.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b.Frames...)
			got = append(got, rd.Flush()...)
			if b.Complete {
				break
			}
		}
		if !slices.Equal(seqs(got), seqs(want)) || len(want) != 12 {
			t.Fatalf("max %d: read %v through the API, %v from the stream", max, seqs(got), seqs(want))
		}
	}
}
