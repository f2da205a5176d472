package ship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/retry"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/ship/seal"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// ConsumerName is the durable consumer every shipper shares: each ended session is
// delivered to one of them at a time, and redelivered until one acknowledges it.
const ConsumerName = "tether-shipper"

// Config wires a Shipper.
type Config struct {
	JS       jetstream.JetStream
	Sessions jetstream.KeyValue // the session records
	// Index holds the recordings index (one key per session, the content of its .json)
	// and the shippers' status reports.
	Index    jetstream.KeyValue
	Uploader Uploader
	// Prefix goes before every key, and before the session's own s3KeyPrefix.
	Prefix string
	// Name names this shipper in status reports and recordings.
	Name string
	// Recipients, when set, are age public keys every recording is encrypted to before it
	// leaves the broker: then neither the broker's storage nor the bucket can read it.
	Recipients []string
	// WorkDir holds the files being rendered; os.TempDir() when empty.
	WorkDir string
	Logger  *slog.Logger
	Now     func() time.Time
	// RetryMin and RetryMax bound the backoff between attempts to ship one session
	// (defaults 1s and 1m).
	RetryMin, RetryMax time.Duration
	// Metrics, when set, count shipments and failures.
	Metrics *Metrics
}

// Shipper ships ended sessions' recordings. Run it; several may run at once.
type Shipper struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	status api.ShipperStatus
}

// New checks cfg.
func New(cfg Config) (*Shipper, error) {
	if cfg.JS == nil || cfg.Sessions == nil || cfg.Index == nil || cfg.Uploader == nil {
		return nil, errors.New("ship: JS, Sessions, Index and Uploader are required")
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if len(cfg.Recipients) > 0 {
		if _, err := seal.ParseRecipients(cfg.Recipients); err != nil {
			return nil, fmt.Errorf("ship: recipients: %w", err)
		}
	}
	s := &Shipper{cfg: cfg, log: cfg.Logger.With(logkey.Component, "ship", logkey.Shipper, cfg.Name)}
	s.status = api.ShipperStatus{Name: cfg.Name, Backend: cfg.Uploader.Describe()}
	return s, nil
}

// consumerConfig is the shared durable consumer: terminal session events.
func consumerConfig(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        ConsumerName,
		Description:    "ended sessions whose recordings are to be shipped",
		FilterSubjects: Subjects(),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1,
		MaxAckPending:  256,
	}
}

// DefaultAckWait is how long a delivered session may go without progress reports before
// another shipper gets it, unless the broker says otherwise.
const DefaultAckWait = 2 * time.Minute

// EnsureConsumers creates the durable consumers the shippers share, on the events stream:
// ConsumerName (ended sessions, so that they count as waiting from the first, even before
// any shipper runs) and StreamerConsumer (started sessions). The broker owns them: a
// shipper may only bind them, so the broker puts back the configuration of one that
// differs. ackWait is how long a delivered session may go without progress reports before
// another shipper gets it (DefaultAckWait when 0); shippers report progress every quarter
// of it.
func EnsureConsumers(ctx context.Context, js jetstream.StreamConsumerManager, ackWait time.Duration) error {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	for _, cfg := range []jetstream.ConsumerConfig{consumerConfig(ackWait), streamerConsumerConfig()} {
		if _, err := js.CreateOrUpdateConsumer(ctx, jsdef.StreamEvents, cfg); err != nil {
			return fmt.Errorf("ship: consumer %s: %w", cfg.Durable, err)
		}
	}
	return nil
}

// EnsureConsumer is EnsureConsumers with DefaultAckWait.
func EnsureConsumer(ctx context.Context, js jetstream.StreamConsumerManager) error {
	return EnsureConsumers(ctx, js, 0)
}

// bind binds the durable consumer name that the broker made (EnsureConsumers), trying
// again with backoff until it is there or ctx is done: a shipper can neither make it nor
// change it.
func (s *Shipper) bind(ctx context.Context, name string) (jetstream.Consumer, error) {
	b := s.backoff().Start()
	for {
		cons, err := s.cfg.JS.Consumer(ctx, jsdef.StreamEvents, name)
		if err == nil {
			return cons, nil
		}
		delay := b.Next()
		s.log.Warn("bind the broker's consumer; will retry", logkey.Consumer, name, logkey.Err, err, logkey.RetryIn, delay)
		if retry.Sleep(ctx, delay) != nil {
			return nil, fmt.Errorf("bind consumer %s: %w", name, err)
		}
	}
}

// backoff spaces the attempts to bind a consumer, to read the next session, and to ship one
// session (the delay its redelivery waits).
func (s *Shipper) backoff() retry.Policy {
	return retry.Policy{Min: s.cfg.RetryMin, Max: s.cfg.RetryMax}
}

// Run ships sessions until ctx is done.
func (s *Shipper) Run(ctx context.Context) error {
	cons, err := s.bind(ctx, ConsumerName)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("ship: %w", err)
	}
	// A delivery stays ours while we report progress within the consumer's AckWait.
	progress := DefaultAckWait / 4
	if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		progress = info.Config.AckWait / 4
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("ship: consume: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		it.Stop()
	}()
	defer func() { <-stopped }()
	s.log.Info("shipper running", logkey.Backend, s.cfg.Uploader.Describe())
	s.report(context.WithoutCancel(ctx))
	b := s.backoff().Start()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("ship: %w", err)
			}
			s.log.Warn("next ended session", logkey.Err, err)
			if b.Wait(ctx) != nil {
				return nil
			}
			continue
		}
		b.Reset()
		s.handle(ctx, msg, progress)
	}
}

// handle ships the session of one terminal event and acknowledges it, or asks for it again
// later, reporting progress every progress meanwhile.
func (s *Shipper) handle(ctx context.Context, msg jetstream.Msg, progress time.Duration) {
	var ev struct {
		Data events.Data `json:"data"`
	}
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || subjects.ValidSessionID(ev.Data.Session.ID) != nil {
		s.log.Error("not a session event; dropped", logkey.Subject, msg.Subject(), logkey.Err, err)
		_ = msg.Term()
		return
	}
	id := ev.Data.Session.ID
	log := s.log.With(logkey.SessionID, id)
	se, err := s.session(ctx, ev.Data.Session.Record())
	if errors.Is(err, errNotEndedYet) {
		// The end is being stored right now: not a failure, just too early.
		_ = msg.NakWithDelay(s.cfg.RetryMin / 4)
		return
	}
	if err != nil {
		s.retry(msg, log, id, err)
		return
	}
	switch done, busy := s.streamed(ctx, se); {
	case done:
		_ = msg.Ack()
		return
	case busy:
		// A streamer is committing it right now.
		_ = msg.NakWithDelay(streamLease / 2)
		return
	}
	// Keep the delivery ours while we work: a long upload must not be handed to another
	// shipper.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progress)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	rec, err := s.Ship(ctx, se)
	close(done)
	wg.Wait()
	if err != nil {
		s.retry(msg, log, id, err)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		// Shipped, but the stream may deliver it again: the next attempt writes the same
		// keys again.
		log.Warn("acknowledge shipped session", logkey.Err, err)
	}
	log.Info("recording shipped", logkey.Key, rec.Files[api.RecordingCast].Key, logkey.Bytes, rec.OutputBytes, logkey.Frames, rec.Frames)
	s.cfg.Metrics.shippedOne(rec.OutputBytes, s.cfg.Now())
	s.mu.Lock()
	s.status.Shipped++
	s.status.LastShipped, s.status.LastAt = id, s.cfg.Now().UTC()
	s.mu.Unlock()
	s.report(ctx)
}

// errNotEndedYet says the terminal event came before the ended session record.
var errNotEndedYet = errors.New("the session record does not show the end yet")

// session is the session's record as stored; the event's copy if the record is gone.
func (s *Shipper) session(ctx context.Context, fromEvent api.Session) (api.Session, error) {
	e, err := s.cfg.Sessions.Get(ctx, fromEvent.ID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fromEvent, nil
	}
	if err != nil {
		return fromEvent, fmt.Errorf("read session record: %w", err)
	}
	var se api.Session
	if err := json.Unmarshal(e.Value(), &se); err != nil {
		return fromEvent, fmt.Errorf("decode session record: %w", err)
	}
	if !se.Ended() {
		// The event is published before the record is stored: wait for it.
		return se, errNotEndedYet
	}
	return se, nil
}

func (s *Shipper) retry(msg jetstream.Msg, log *slog.Logger, id string, err error) {
	attempt := 1
	if md, mdErr := msg.Metadata(); mdErr == nil {
		attempt = int(min(md.NumDelivered, 64))
	}
	// The stream waits the delay out: it redelivers the session then.
	delay := s.backoff().Delay(attempt)
	log.Warn("shipping failed; will retry", logkey.Err, err, logkey.RetryIn, delay)
	_ = msg.NakWithDelay(delay)
	s.cfg.Metrics.failedOne()
	s.mu.Lock()
	s.status.Failed++
	s.status.LastError, s.status.ErrorAt = fmt.Sprintf("%s: %v", id, err), s.cfg.Now().UTC()
	s.mu.Unlock()
	s.report(context.Background())
}

// StatusKey is where a shipper reports; StatusKey("") is the prefix of all.
func StatusKey(name string) string { return "shipper." + keyUnsafe.ReplaceAllString(name, "_") }

// Subjects are the terminal session events the shippers consume.
func Subjects() []string {
	return []string{subjects.SessionEvent(events.Terminated), subjects.SessionEvent(events.Failed)}
}

func (s *Shipper) report(ctx context.Context) {
	s.mu.Lock()
	s.status.UpdatedAt = s.cfg.Now().UTC()
	b, _ := json.Marshal(s.status)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.cfg.Index.Put(ctx, StatusKey(s.cfg.Name), b); err != nil {
		s.log.Warn("report shipper status", logkey.Err, err)
	}
}

// Ship renders and uploads one ended session's recording: the cast, the log, then the
// metadata (whose presence says the other two are complete), then the index entry. Doing
// it again writes the same keys.
func (s *Shipper) Ship(ctx context.Context, se api.Session) (api.Recording, error) {
	var rec api.Recording
	if se.Recording != nil && se.Recording.EncryptionRequired {
		if ec, ok := s.cfg.Uploader.(EncryptionChecker); ok {
			if err := ec.CheckBucketEncryption(ctx); err != nil {
				return rec, fmt.Errorf("refusing to upload: %w", err)
			}
		}
	}
	tr, err := readTranscript(ctx, s.cfg.JS, se)
	if err != nil {
		return rec, err
	}
	prefix := s.cfg.Prefix
	if se.Recording != nil {
		prefix = joinKey(prefix, se.Recording.KeyPrefix)
	}
	keys := KeysFor(prefix, se, len(s.cfg.Recipients) > 0)

	castF, err := s.tempFile("cast")
	if err != nil {
		return rec, err
	}
	defer castF.discard()
	logF, err := s.tempFile("log")
	if err != nil {
		return rec, err
	}
	defer logF.discard()
	castW, err := s.seal(castF)
	if err != nil {
		return rec, err
	}
	logW, err := s.seal(logF)
	if err != nil {
		return rec, err
	}
	r, err := cast.NewRenderer(header(se), castW, logW)
	if err != nil {
		return rec, err
	}
	for _, f := range tr.frames {
		if err := r.Add(f); err != nil {
			if errors.Is(err, frame.ErrBadPayload) {
				// One malformed frame must not keep the whole recording from shipping.
				s.log.Warn("malformed frame left out of the recording", logkey.SessionID, se.ID, logkey.Err, err)
				continue
			}
			return rec, fmt.Errorf("render %s: %w", se.ID, err)
		}
	}
	sum, err := r.Close()
	if err != nil {
		return rec, fmt.Errorf("render %s: %w", se.ID, err)
	}
	if err := castW.Close(); err != nil {
		return rec, err
	}
	if err := logW.Close(); err != nil {
		return rec, err
	}
	rec = s.recording(se, sum, tr.out)
	for _, up := range []struct {
		kind, key string
		f         *tempFile
	}{
		{api.RecordingCast, keys.Cast, castF},
		{api.RecordingLog, keys.Log, logF},
	} {
		if err := up.f.upload(ctx, s.cfg.Uploader, up.key, s.contentType(up.kind)); err != nil {
			return rec, err
		}
		rec.Files[up.kind] = api.RecordingFile{Key: up.key, Bytes: up.f.size, SHA256: hex.EncodeToString(up.f.hash.Sum(nil))}
	}
	// Uploaded: the work files go before the index says the recording is shipped, so a
	// shipped recording never has files left in the spool.
	castF.discard()
	logF.discard()
	return rec, s.writeMeta(ctx, keys, rec)
}

// recording is the metadata of se's recording, but for its files.
func (s *Shipper) recording(se api.Session, sum cast.Summary, frames uint64) api.Recording {
	rec := api.Recording{
		SessionID: se.ID, Owner: se.Owner, Target: se.Target, Document: se.Document,
		DocumentVersion: se.DocumentVersion, SessionType: se.SessionType, RunAs: se.RunAs,
		StartedAt: se.StartedAt, EndedAt: se.EndedAt, State: se.State, Reason: se.Reason,
		ExitCode: se.ExitCode, Cols: se.Cols, Rows: se.Rows,
		Frames: frames, OutFrames: se.OutFrames, OutputBytes: sum.OutputBytes, OutputSHA256: sum.OutputSHA256,
		InputBytes: sum.InputBytes, Files: map[string]api.RecordingFile{},
		ShippedAt: s.cfg.Now().UTC().Truncate(time.Second), Shipper: s.cfg.Name,
	}
	if len(s.cfg.Recipients) > 0 {
		rec.Encryption, rec.Recipients = "age", s.cfg.Recipients
	}
	return rec
}

func (s *Shipper) contentType(kind string) string {
	switch {
	case len(s.cfg.Recipients) > 0:
		return "application/age"
	case kind == api.RecordingCast:
		return "application/x-asciicast"
	default:
		return "text/plain; charset=utf-8"
	}
}

// writeMeta stores the metadata, which says the recording is complete, then indexes it.
func (s *Shipper) writeMeta(ctx context.Context, keys Keys, rec api.Recording) error {
	meta, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	meta = append(meta, '\n')
	if err := s.cfg.Uploader.Put(ctx, keys.Meta, bytes.NewReader(meta), int64(len(meta)), PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("upload %s: %w", keys.Meta, err)
	}
	if _, err := s.cfg.Index.Put(ctx, IndexKey(rec.SessionID), meta); err != nil {
		return fmt.Errorf("index recording of %s: %w", rec.SessionID, err)
	}
	return nil
}

// IndexKey is the recordings index key of a session; IndexKey("") is the prefix of all.
func IndexKey(id string) string { return "rec." + id }

func header(se api.Session) cast.Header {
	h := cast.Header{Width: se.Cols, Height: se.Rows, Timestamp: se.StartedAt.UTC()}
	if !se.ConnectedAt.IsZero() {
		h.Timestamp = se.ConnectedAt.UTC()
	}
	if h.Timestamp.IsZero() {
		h.Timestamp = se.EndedAt.UTC()
	}
	if h.Timestamp.IsZero() {
		h.Timestamp = time.Unix(0, 0).UTC()
	}
	h.Title = fmt.Sprintf("%s on %s (%s)", se.Owner, se.Target, se.Document)
	return h
}

// seal wraps a temp file in age encryption when the shipper has recipients.
func (s *Shipper) seal(f io.Writer) (io.WriteCloser, error) {
	if len(s.cfg.Recipients) == 0 {
		return nopCloser{f}, nil
	}
	return seal.Encrypt(f, s.cfg.Recipients)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// WorkFilePattern names the shipper's work files in WorkDir (a glob, and CreateTemp's
// pattern): whatever matches it in a spool directory at start is left from a shipper
// that was killed.
const WorkFilePattern = "tether-ship-*"

// tempFile is a rendered file on its way to storage, hashed as it is written.
type tempFile struct {
	f         *os.File
	hash      hash.Hash
	size      int64
	discarded bool
}

func (s *Shipper) tempFile(kind string) (*tempFile, error) {
	f, err := os.CreateTemp(s.cfg.WorkDir, strings.Replace(WorkFilePattern, "*", "*."+kind, 1))
	if err != nil {
		return nil, fmt.Errorf("ship: work file: %w", err)
	}
	return &tempFile{f: f, hash: sha256.New()}, nil
}

func (t *tempFile) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.hash.Write(p[:n])
	t.size += int64(n)
	return n, err
}

func (t *tempFile) upload(ctx context.Context, u Uploader, key, ctype string) error {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := u.Put(ctx, key, t.f, t.size, PutOptions{ContentType: ctype}); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// discard closes and removes the file; it is idempotent.
func (t *tempFile) discard() {
	if t.discarded {
		return
	}
	t.discarded = true
	t.f.Close()
	os.Remove(t.f.Name())
}
