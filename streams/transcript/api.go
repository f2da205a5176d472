package transcript

import (
	"context"

	"github.com/tetherhq/tether/streams/wire/api"
)

// ReadTranscriptFunc makes one ReadTranscript call.
type ReadTranscriptFunc func(ctx context.Context, req api.ReadTranscriptRequest) (api.ReadTranscriptResponse, error)

// API reads a session's output through the ReadTranscript API, page by page: each request
// asks for the frames after the reader's last, from the broker's cursor on.
type API struct {
	read      ReadTranscriptFunc
	sessionID string
	// Max is the number of frames asked for per request; it may change between reads.
	Max    int
	cursor uint64
}

// NewAPI reads session id's transcript with read, max frames a page.
func NewAPI(id string, max int, read ReadTranscriptFunc) *API {
	return &API{read: read, sessionID: id, Max: max}
}

var _ Source = (*API)(nil)

// Next asks for the frames after after. The error of the call is returned as it is (an
// *api.Error stays one). A page with frames says More unless it is Complete: the caller
// reads on at once while it makes progress.
func (a *API) Next(ctx context.Context, after uint64) (Page, error) {
	req := api.ReadTranscriptRequest{SessionID: a.sessionID, After: after, Max: a.Max, Cursor: a.cursor}
	resp, err := a.read(ctx, req)
	if err != nil {
		return Page{}, err
	}
	a.cursor = max(a.cursor, resp.Cursor)
	p := Page{Msgs: make([]Msg, 0, len(resp.Frames)), Complete: resp.Complete}
	for _, tf := range resp.Frames {
		p.Msgs = append(p.Msgs, Msg{Time: tf.Time, Data: tf.Frame})
	}
	p.More = len(p.Msgs) > 0 && !p.Complete
	return p, nil
}
