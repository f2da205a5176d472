package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/wire/api"
)

// recordingEndpoints are the verbs on shipped recordings.
func (s *Service) recordingEndpoints() []endpoint {
	return []endpoint{
		// Asked once without a session, then as GetRecording once per recording listed.
		policyVerb(s, api.VerbListRecordings, api.VerbListRecordings, api.MaxRequest, checkListRecordings, s.listRecordings),
		policyVerb(s, api.VerbGetRecording, api.VerbGetRecording, api.MaxRequest, s.prepareRecording, s.getRecording),
		policyVerb(s, api.VerbShipStatus, api.VerbShipStatus, api.MaxRequest, noInput[api.Empty], s.shipStatus),
	}
}

// recordingState is a recording as GetRecording's decision found it: its index entry
// (missing if not shipped yet) and its session (missing once the record is gone).
type recordingState struct {
	se      api.Session
	rec     api.Recording
	shipped bool
}

// prepareRecording loads session r.SessionID's recording from the index. A session whose
// record is gone (or never existed) is authorized by the recording's own owner and
// target, so a recording outlives its session record.
func (s *Service) prepareRecording(ctx context.Context, _ caller, r *api.GetRecordingRequest) (policies.Input, recordingState, error) {
	var st recordingState
	if r.Kind == "" {
		r.Kind = api.RecordingCast
	}
	if r.Kind != api.RecordingCast && r.Kind != api.RecordingLog {
		return policies.Input{}, st, badRequest("GetRecording: kind must be %s or %s, not %.32q", api.RecordingCast, api.RecordingLog, r.Kind)
	}
	if r.Offset < 0 {
		return policies.Input{}, st, badRequest("GetRecording: offset must not be negative")
	}
	se, err := s.loadSession(ctx, r.SessionID)
	var ae *api.Error
	if err != nil && !(errors.As(err, &ae) && ae.Code == api.CodeNotFound) {
		return policies.Input{}, st, err
	}
	rec, _, recErr := getJSON[api.Recording](ctx, s.b.Recordings, ship.IndexKey(r.SessionID))
	if recErr != nil && !errors.Is(recErr, errNotFound) {
		return policies.Input{}, st, recErr
	}
	st = recordingState{se: se, rec: rec, shipped: recErr == nil}
	in := policies.Input{}
	switch {
	case err == nil:
		in.Session = sessionInput(se)
	case recErr == nil:
		in.Session = recordingInput(rec)
	default:
		return policies.Input{}, st, notFound("no session or recording %.64q", r.SessionID)
	}
	if inst, _, err := getJSON[storedInstance](ctx, s.b.Instances, in.Session.Target); err == nil {
		in.Target = targetInput(inst)
	}
	return in, st, nil
}

// shippedRecording is the recording, or why there is none yet.
func (st recordingState) shippedRecording() (api.Recording, error) {
	if st.shipped {
		return st.rec, nil
	}
	if st.se.Ended() {
		return st.rec, notFound("session %s has no shipped recording yet (see tether admin ship status)", st.se.ID)
	}
	return st.rec, notFound("session %s is still %s: its recording is shipped when it ends", st.se.ID, st.se.State)
}

func checkListRecordings(_ context.Context, _ caller, r *api.ListRecordingsRequest) (policies.Input, pageRequest, error) {
	p, err := checkPage(api.VerbListRecordings, r.MaxResults, r.NextToken, true)
	return policies.Input{}, p, err
}

func (s *Service) listRecordings(ctx context.Context, c caller, r *api.ListRecordingsRequest, pr pageRequest, d *decision) (any, error) {
	keys, err := listKeys(ctx, s.b.Recordings)
	if err != nil {
		return nil, err
	}
	var all []api.Recording
	for _, k := range keys {
		if !strings.HasPrefix(k, ship.IndexKey("")) {
			continue
		}
		rec, _, err := getJSON[api.Recording](ctx, s.b.Recordings, k)
		if err != nil {
			continue
		}
		if (r.Target != "" && rec.Target != r.Target) || (r.User != "" && rec.Owner != r.User) ||
			(!r.Since.IsZero() && rec.StartedAt.Before(r.Since)) {
			continue
		}
		all = append(all, rec)
	}
	// Which recordings the caller sees is the policy's call, recording by recording.
	out := permitted(ctx, s, c, d, api.VerbGetRecording, all, func(rec api.Recording) policies.Input {
		return policies.Input{Session: recordingInput(rec)}
	})
	out, next := page(api.VerbListRecordings, out, func(rec api.Recording) pageKey { return newestFirst(rec.StartedAt, rec.SessionID) }, pr)
	return api.ListRecordingsResponse{Recordings: out, NextToken: next}, nil
}

func (s *Service) getRecording(ctx context.Context, _ caller, r *api.GetRecordingRequest, st recordingState, _ *decision) (any, error) {
	if s.cfg.Recordings == nil {
		return nil, &api.Error{Code: api.CodeUnavailable, Message: "this broker has no recordings storage configured"}
	}
	rec, err := st.shippedRecording()
	if err != nil {
		return nil, err
	}
	f, ok := rec.Files[r.Kind]
	if !ok {
		return nil, notFound("recording of %s has no %s file", rec.SessionID, r.Kind)
	}
	if r.Offset > f.Bytes {
		return nil, badRequest("GetRecording: offset %d is past the end of the %d-byte file", r.Offset, f.Bytes)
	}
	body, err := s.cfg.Recordings.Get(ctx, f.Key)
	if errors.Is(err, ship.ErrNotFound) {
		return nil, notFound("the %s file of %s is missing from storage (%s)", r.Kind, rec.SessionID, f.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("read recording %s: %w", f.Key, err)
	}
	defer body.Close()
	if sk, ok := body.(io.Seeker); ok {
		_, err = sk.Seek(r.Offset, io.SeekStart)
	} else {
		_, err = io.CopyN(io.Discard, body, r.Offset)
	}
	if err != nil {
		return nil, fmt.Errorf("read recording %s: %w", f.Key, err)
	}
	buf := make([]byte, api.MaxRecordingPage)
	n, err := io.ReadFull(body, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read recording %s: %w", f.Key, err)
	}
	return api.GetRecordingResponse{Recording: rec, Data: buf[:n], EOF: r.Offset+int64(n) >= f.Bytes}, nil
}

func (s *Service) shipStatus(ctx context.Context, _ caller, _ *api.Empty, _ struct{}, _ *decision) (any, error) {
	resp := api.ShipStatusResponse{Shippers: []api.ShipperStatus{}}
	cons, err := s.js.Consumer(ctx, jsdef.StreamEvents, ship.ConsumerName)
	if err == nil {
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("shipper consumer: %w", err)
		}
		resp.Pending, resp.AckPending, resp.Redelivered = info.NumPending, uint64(info.NumAckPending), uint64(info.NumRedelivered)
		if resp.Pending+resp.AckPending > 0 {
			if t, ok := s.oldestUnshipped(ctx, info.AckFloor.Stream); ok {
				resp.OldestWait = api.Duration(s.now().Sub(t).Round(time.Second))
			}
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("shipper consumer: %w", err)
	}
	keys, err := listKeys(ctx, s.b.Recordings)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, ship.StatusKey("")) {
			continue
		}
		if st, _, err := getJSON[api.ShipperStatus](ctx, s.b.Recordings, k); err == nil {
			resp.Shippers = append(resp.Shippers, st)
		}
	}
	sort.Slice(resp.Shippers, func(i, j int) bool { return resp.Shippers[i].Name < resp.Shippers[j].Name })
	if _, err := s.readCapacity(ctx, capacityFresh); err != nil {
		return nil, err
	}
	c := s.TranscriptCapacity()
	resp.Transcripts = &c
	return resp, nil
}

// oldestUnshipped is when the first terminal event after the consumer's ack floor was
// stored.
func (s *Service) oldestUnshipped(ctx context.Context, floor uint64) (time.Time, bool) {
	st, err := s.js.Stream(ctx, jsdef.StreamEvents)
	if err != nil {
		return time.Time{}, false
	}
	var oldest time.Time
	for _, subj := range ship.Subjects() {
		m, err := st.GetMsg(ctx, floor+1, jetstream.WithGetMsgSubject(subj))
		if err == nil && (oldest.IsZero() || m.Time.Before(oldest)) {
			oldest = m.Time
		}
	}
	return oldest, !oldest.IsZero()
}

// recordingInput is a recording's session, for a recording whose session record may be gone.
func recordingInput(rec api.Recording) *policies.Session {
	return &policies.Session{ID: rec.SessionID, Owner: rec.Owner, Target: rec.Target, Document: rec.Document}
}
