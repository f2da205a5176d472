package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/transcript"
)

// ArchiveConfig wires an Archiver.
type ArchiveConfig struct {
	JS jetstream.JetStream
	// Index holds each stream's checkpoint (key "archive.<stream>").
	Index    jetstream.KeyValue
	Uploader Uploader
	Prefix   string
	Logger   *slog.Logger
	Now      func() time.Time
	// Grace is how long after an hour ends its object is written, for messages stored
	// at its very end (default 1m).
	Grace time.Duration
	// Poll is how often the streams are read (default 1m).
	Poll time.Duration
}

// Archiver ships the lifecycle events and the audit records as hourly JSON Lines objects,
// PREFIX/events/YYYY/MM/DD/HH-FIRSTSEQ.jsonl and PREFIX/audit/…, one line per message in
// stream order. Each object holds the messages of one hour from a checkpoint on, so writing
// it again (after a crash, or by a second archiver) writes the same bytes under the same
// key; the checkpoint then moves on with a compare-and-set.
type Archiver struct {
	cfg ArchiveConfig
	log *slog.Logger
}

// archivedStreams are the streams archived, by the folder their objects go in.
var archivedStreams = []struct{ stream, folder string }{
	{jsdef.StreamEvents, "events"},
	{jsdef.StreamAudit, "audit"},
}

// NewArchiver checks cfg.
func NewArchiver(cfg ArchiveConfig) (*Archiver, error) {
	if cfg.JS == nil || cfg.Index == nil || cfg.Uploader == nil {
		return nil, errors.New("ship: JS, Index and Uploader are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Minute
	}
	return &Archiver{cfg: cfg, log: cfg.Logger.With(logkey.Component, "archive")}, nil
}

// Run archives every Poll until ctx is done.
func (a *Archiver) Run(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Poll)
	defer t.Stop()
	for {
		if err := a.Once(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("archiving failed; will retry", logkey.Err, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once archives every complete hour not archived yet.
func (a *Archiver) Once(ctx context.Context) error {
	var errs []error
	for _, s := range archivedStreams {
		if err := a.archive(ctx, s.stream, s.folder); err != nil {
			errs = append(errs, fmt.Errorf("archive %s: %w", s.stream, err))
		}
	}
	return errors.Join(errs...)
}

// checkpoint is how far a stream is archived.
type checkpoint struct {
	Seq uint64    `json:"seq"` // the last stream sequence archived
	At  time.Time `json:"at"`  // its time
	Key string    `json:"key"` // the object it went in
}

func checkpointKey(stream string) string { return "archive." + stream }

// archive writes the complete hours of stream after its checkpoint.
func (a *Archiver) archive(ctx context.Context, stream, folder string) error {
	var cp checkpoint
	var rev uint64
	if e, err := a.cfg.Index.Get(ctx, checkpointKey(stream)); err == nil {
		if err := json.Unmarshal(e.Value(), &cp); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		rev = e.Revision()
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var batch bytes.Buffer
	var hour time.Time
	var first, last uint64
	var lastAt time.Time
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		key := joinKey(a.cfg.Prefix, folder, hour.Format("2006/01/02/15")+fmt.Sprintf("-%012d.jsonl", first))
		if err := a.cfg.Uploader.Put(ctx, key, bytes.NewReader(batch.Bytes()), int64(batch.Len()), PutOptions{ContentType: "application/x-ndjson"}); err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
		next, _ := json.Marshal(checkpoint{Seq: last, At: lastAt, Key: key})
		var err error
		if rev == 0 {
			rev, err = a.cfg.Index.Create(ctx, checkpointKey(stream), next)
		} else {
			rev, err = a.cfg.Index.Update(ctx, checkpointKey(stream), next, rev)
		}
		if err != nil {
			// Another archiver moved the checkpoint: it wrote the same object.
			return fmt.Errorf("move checkpoint past %s: %w", key, err)
		}
		a.log.Info("archived", logkey.Stream, stream, logkey.Key, key, logkey.Messages, last-first+1)
		batch.Reset()
		return nil
	}
	for from := cp.Seq + 1; ; {
		p, err := transcript.ReadPage(ctx, a.cfg.JS, stream, "", from)
		if err != nil {
			return err
		}
		for _, m := range p.Msgs {
			h := m.Time.UTC().Truncate(time.Hour)
			if batch.Len() > 0 && !h.Equal(hour) {
				if err := flush(); err != nil {
					return err
				}
			}
			if batch.Len() == 0 {
				hour, first = h, m.Seq
			}
			if err := appendLine(&batch, m.Data); err != nil {
				a.log.Warn("message is not JSON; archived as a string", logkey.Stream, stream, logkey.Seq, m.Seq)
				quoted, _ := json.Marshal(string(m.Data))
				batch.Write(quoted)
				batch.WriteByte('\n')
			}
			last, lastAt, from = m.Seq, m.Time, m.Seq+1
		}
		if !p.More {
			break
		}
	}
	// The last hour is written once it is over (and its grace).
	if batch.Len() > 0 && !a.cfg.Now().Before(hour.Add(time.Hour+a.cfg.Grace)) {
		return flush()
	}
	return nil
}

// appendLine writes one JSON value on one line.
func appendLine(b *bytes.Buffer, data []byte) error {
	n := b.Len()
	if err := json.Compact(b, data); err != nil {
		b.Truncate(n)
		return err
	}
	b.WriteByte('\n')
	return nil
}
