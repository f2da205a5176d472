package ship

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Shippers read the streams through batched direct gets, never through consumers of their
// own: a shipper may not make consumers (one that could would make a push consumer that
// delivers recordings anywhere). Every reader pages through a stream by sequence, filtered
// by one literal subject where it reads one session (a wildcard filter makes the server
// walk a large stream).
const (
	pageSize  = 256     // messages in one batch
	pageBytes = 4 << 20 // bytes in one batch, about: the server stops after the message that passes it
	// pageWait bounds one batch, whatever the caller's context allows.
	pageWait = 10 * time.Second
)

// storedMsg is a message as the stream stored it.
type storedMsg struct {
	seq     uint64 // its stream sequence
	subject string
	time    time.Time
	data    []byte
}

// page is one batch of a stream's messages, in stream order.
type page struct {
	msgs []storedMsg
	// more says the stream held messages past the last one (of the subject read) when the
	// batch was read: read on from the last one's sequence + 1.
	more bool
}

// readPage reads the messages stream stored from sequence from on, of subject alone unless
// it is "", through a batched direct get.
func readPage(ctx context.Context, js jetstream.JetStream, stream, subject string, from uint64) (page, error) {
	bctx, cancel := context.WithTimeout(ctx, pageWait)
	defer cancel()
	opts := []jetstreamext.GetBatchOpt{jetstreamext.GetBatchSeq(from), jetstreamext.GetBatchMaxBytes(pageBytes)}
	if subject != "" {
		opts = append(opts, jetstreamext.GetBatchSubject(subject))
	}
	msgs, err := jetstreamext.GetBatch(bctx, js, stream, pageSize, opts...)
	if err != nil {
		return page{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
	}
	var p page
	answered := false
	next := from
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			answered = true // nothing (more) to read
			break
		}
		if err != nil {
			return page{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
		}
		sm, pending, err := stored(m, subject, next)
		if err != nil {
			return page{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
		}
		answered = true
		p.msgs = append(p.msgs, sm)
		p.more = pending > 0
		next = sm.seq + 1
	}
	// The batch ends at its end-of-batch mark, or silently when bctx runs out: what came
	// until then stands, and more says whether to read on.
	if err := ctx.Err(); err != nil {
		return page{}, err
	}
	if !answered {
		return page{}, fmt.Errorf("read %s from %d: no answer within %v", stream, from, pageWait)
	}
	return p, nil
}

// Headers the server adds to a message of a batched direct get.
const (
	numPendingHeader = "Nats-Num-Pending" // messages (of the subject) after this one
)

// stored reads what the server says of a message of a batch: from the last value of each
// of its headers, which the server adds after any the message was published with, so a
// publisher cannot pass off its own. The message must be of subject (when not "") and no
// earlier than from, so that a reader always moves on.
func stored(m *jetstream.RawStreamMsg, subject string, from uint64) (storedMsg, uint64, error) {
	last := func(key string) string {
		v := m.Header.Values(key)
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	sm := storedMsg{subject: last(jetstream.SubjectHeader), data: m.Data}
	var err error
	if sm.seq, err = strconv.ParseUint(last(jetstream.SequenceHeader), 10, 64); err != nil {
		return storedMsg{}, 0, fmt.Errorf("a message without its sequence: %w", err)
	}
	if sm.seq < from {
		return storedMsg{}, 0, fmt.Errorf("message %d came after %d", sm.seq, from-1)
	}
	if subject != "" && sm.subject != subject {
		return storedMsg{}, 0, fmt.Errorf("message %d is of %q, not %q", sm.seq, sm.subject, subject)
	}
	if sm.time, err = time.Parse(time.RFC3339Nano, last(jetstream.TimeStampHeaer)); err != nil {
		return storedMsg{}, 0, fmt.Errorf("message %d without its time: %w", sm.seq, err)
	}
	pending, err := strconv.ParseUint(last(numPendingHeader), 10, 64)
	if err != nil {
		return storedMsg{}, 0, fmt.Errorf("message %d without the count pending: %w", sm.seq, err)
	}
	return sm, pending, nil
}
