package ship

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/transcript"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// StreamerConsumer is the durable consumer of session starts the streamers share.
const StreamerConsumer = "tether-streamer"

// streamLease is how often a streamer says it is still streaming a session; a lease twice
// as old is dead, and the shipper ships the session itself.
const streamLease = 10 * time.Second

// endWait bounds how long a streamer waits, once the output has stopped, for the session
// record to say it ended.
const endWait = time.Minute

// Streamer uploads the recordings of sessions whose preferences set streamingEnabled while
// they run: the cast and the log go up in parts (a multipart upload, invisible until
// committed) as output arrives, and are committed, with the metadata, when the session
// ends. A session it cannot finish is left to the shipper, which ships it whole.
type Streamer struct {
	sh  *Shipper
	up  StreamUploader
	log *slog.Logger
}

// NewStreamer streams with sh's configuration; nil when its backend cannot take uploads in
// parts.
func NewStreamer(sh *Shipper) *Streamer {
	up, ok := sh.cfg.Uploader.(StreamUploader)
	if !ok {
		return nil
	}
	return &Streamer{sh: sh, up: up, log: sh.log.With(logkey.Component, "stream")}
}

// streamerConsumerConfig is the durable consumer of session starts the streamers share.
func streamerConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       StreamerConsumer,
		Description:   "started sessions, for streaming the recordings of those that ask for it",
		FilterSubject: subjects.SessionEvent(events.Started),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       2 * streamLease,
		MaxDeliver:    -1,
		MaxAckPending: 1024,
	}
}

// pollWait is how long a streamer that has read all of a session's frames waits before
// it looks for more.
const pollWait = 250 * time.Millisecond

// Run streams sessions until ctx is done.
func (st *Streamer) Run(ctx context.Context) error {
	cons, err := st.sh.bind(ctx, StreamerConsumer)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("stream: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("stream: consume: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		it.Stop()
	}()
	defer func() { <-stopped }()
	b := st.sh.backoff().Start()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			st.log.Debug("next started session", logkey.Err, err)
			if b.Wait(ctx) != nil {
				return nil
			}
			continue
		}
		b.Reset()
		var ev struct {
			Data events.Data `json:"data"`
		}
		if json.Unmarshal(msg.Data(), &ev) != nil || subjects.ValidSessionID(ev.Data.Session.ID) != nil {
			_ = msg.Term()
			continue
		}
		se := ev.Data.Session.Record()
		if se.Recording == nil || !se.Recording.Streaming {
			_ = msg.Ack()
			continue
		}
		if _, err := st.sh.cfg.Index.Get(ctx, IndexKey(se.ID)); err == nil {
			// Shipped already: a start this streamer hears of late (the broker's consumer
			// keeps the starts of sessions that ran while no streamer did).
			_ = msg.Ack()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.follow(ctx, msg, se)
		}()
	}
}

// leaseKey is where a streamer holds its lease on a session.
func leaseKey(id string) string { return "stream." + id }

type lease struct {
	Streamer string    `json:"streamer"`
	At       time.Time `json:"at"`
}

// follow streams one session's recording until it ends.
func (st *Streamer) follow(ctx context.Context, msg jetstream.Msg, se api.Session) {
	log := st.log.With(logkey.SessionID, se.ID)
	renew := func() {
		b, _ := json.Marshal(lease{Streamer: st.sh.cfg.Name, At: st.sh.cfg.Now().UTC()})
		if _, err := st.sh.cfg.Index.Put(ctx, leaseKey(se.ID), b); err != nil {
			log.Warn("renew streaming lease", logkey.Err, err)
		}
		_ = msg.InProgress()
	}
	renew()
	defer func() {
		_ = st.sh.cfg.Index.Delete(context.WithoutCancel(ctx), leaseKey(se.ID))
		_ = msg.Ack() // the shipper ships whatever this did not
	}()
	rec, err := st.stream(ctx, se, renew)
	if err != nil {
		log.Warn("streaming the recording stopped; the shipper ships it when the session ends", logkey.Err, err)
		return
	}
	log.Info("recording streamed", logkey.Key, rec.Files[api.RecordingCast].Key, logkey.Bytes, rec.OutputBytes)
	st.sh.cfg.Metrics.shippedOne(rec.OutputBytes, st.sh.cfg.Now())
}

// hashWriter hashes and counts what goes through to w.
type hashWriter struct {
	w    io.Writer
	hash hash.Hash
	n    int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.hash.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (st *Streamer) stream(ctx context.Context, se api.Session, renew func()) (api.Recording, error) {
	sh := st.sh
	if se.Recording.EncryptionRequired {
		if ec, ok := sh.cfg.Uploader.(EncryptionChecker); ok {
			if err := ec.CheckBucketEncryption(ctx); err != nil {
				return api.Recording{}, fmt.Errorf("refusing to upload: %w", err)
			}
		}
	}
	prefix := joinKey(sh.cfg.Prefix, se.Recording.KeyPrefix)
	keys := KeysFor(prefix, se, len(sh.cfg.Recipients) > 0)
	castPart, err := st.up.Begin(ctx, keys.Cast, PutOptions{ContentType: sh.contentType(api.RecordingCast)})
	if err != nil {
		return api.Recording{}, err
	}
	logPart, err := st.up.Begin(ctx, keys.Log, PutOptions{ContentType: sh.contentType(api.RecordingLog)})
	if err != nil {
		castPart.Abort(ctx)
		return api.Recording{}, err
	}
	committed := false
	defer func() {
		if !committed {
			castPart.Abort(ctx)
			logPart.Abort(ctx)
		}
	}()
	castH := &hashWriter{w: castPart, hash: sha256.New()}
	logH := &hashWriter{w: logPart, hash: sha256.New()}
	castW, err := sh.seal(castH)
	if err != nil {
		return api.Recording{}, err
	}
	logW, err := sh.seal(logH)
	if err != nil {
		return api.Recording{}, err
	}
	r, err := cast.NewRenderer(header(se), castW, logW)
	if err != nil {
		return api.Recording{}, err
	}

	// Each direction's frames come in their sequence order: one the agent had to publish
	// again is stored after later ones, and waits in the reader for its place.
	rd := transcript.NewReader(transcriptSource(sh.cfg.JS, se), 0)
	var rendered uint64
	add := func(f cast.Frame) error {
		if err := r.Add(f); err != nil && !errors.Is(err, frame.ErrBadPayload) {
			return err
		}
		return nil
	}
	exited := false
	tick := time.NewTicker(streamLease / 2)
	defer tick.Stop()
	var idleSince time.Time
	// lease renews the lease and ends a session that ends without an Exit frame (its agent
	// lost) once its record says so and no frame is missing.
	lease := func() error {
		renew()
		cur, err := sh.session(ctx, se)
		if err == nil && cur.Ended() && rd.Held() == 0 && (cur.OutFrames == 0 || rendered >= cur.OutFrames) {
			exited = true
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		} else if err == nil && cur.Ended() && time.Since(idleSince) > endWait {
			return fmt.Errorf("session ended with %d of %d frames in the stream", rendered, cur.OutFrames)
		}
		return nil
	}
	for !exited {
		b, err := rd.Read(ctx)
		if ctx.Err() != nil {
			return api.Recording{}, ctx.Err()
		}
		if err != nil {
			// Read again at the next poll; a session that stays unreadable ends at endWait.
			st.log.Debug("read the transcript", logkey.SessionID, se.ID, logkey.Err, err)
		}
		more := b.More
		if len(b.Frames) > 0 {
			idleSince = time.Time{}
		}
		for _, f := range b.Frames {
			if err := add(cast.Frame{Time: f.Time, Type: f.Type, Payload: f.Payload}); err != nil {
				return api.Recording{}, err
			}
			if f.Input {
				continue
			}
			rendered++
			if f.Type == frame.Exit {
				exited = true
				break
			}
		}
		if exited {
			break
		}
		if more {
			// More is stored already: read on, renewing the lease when it is due.
			select {
			case <-tick.C:
				if err := lease(); err != nil {
					return api.Recording{}, err
				}
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return api.Recording{}, ctx.Err()
		case <-tick.C:
			if err := lease(); err != nil {
				return api.Recording{}, err
			}
		case <-time.After(pollWait):
		}
	}
	// Recorded input still waiting for a frame before it will not get it now: it goes in,
	// in its order. Output after a gap does not: the recording ends where the output did.
	for _, f := range rd.Flush() {
		if f.Input {
			if err := add(cast.Frame{Time: f.Time, Type: f.Type, Payload: f.Payload}); err != nil {
				return api.Recording{}, err
			}
		}
	}
	sum, err := r.Close()
	if err != nil {
		return api.Recording{}, err
	}
	if err := castW.Close(); err != nil {
		return api.Recording{}, err
	}
	if err := logW.Close(); err != nil {
		return api.Recording{}, err
	}
	// The metadata needs the ended record: the agent's report follows its Exit frame.
	var ended api.Session
	deadline := time.Now().Add(endWait)
	for {
		ended, err = sh.session(ctx, se)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return api.Recording{}, fmt.Errorf("the session record never showed the end: %w", err)
		}
		select {
		case <-ctx.Done():
			return api.Recording{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := castPart.Commit(ctx); err != nil {
		return api.Recording{}, err
	}
	if err := logPart.Commit(ctx); err != nil {
		return api.Recording{}, err
	}
	committed = true
	rec := sh.recording(ended, sum, rendered)
	rec.Files[api.RecordingCast] = api.RecordingFile{Key: keys.Cast, Bytes: castH.n, SHA256: hex.EncodeToString(castH.hash.Sum(nil))}
	rec.Files[api.RecordingLog] = api.RecordingFile{Key: keys.Log, Bytes: logH.n, SHA256: hex.EncodeToString(logH.hash.Sum(nil))}
	return rec, sh.writeMeta(ctx, keys, rec)
}

// streamed reports whether a streamer shipped se's recording whole already, or is still
// at it (its lease is fresh): then the shipper leaves it alone, or waits.
func (s *Shipper) streamed(ctx context.Context, se api.Session) (done, busy bool) {
	if se.Recording == nil || !se.Recording.Streaming {
		return false, false
	}
	if e, err := s.cfg.Index.Get(ctx, IndexKey(se.ID)); err == nil {
		var rec api.Recording
		if json.Unmarshal(e.Value(), &rec) == nil && rec.Frames == se.OutFrames && rec.State == se.State {
			return true, false
		}
	}
	if e, err := s.cfg.Index.Get(ctx, leaseKey(se.ID)); err == nil {
		var l lease
		if json.Unmarshal(e.Value(), &l) == nil && s.cfg.Now().Sub(l.At) < 2*streamLease {
			return false, true
		}
	}
	return false, false
}
