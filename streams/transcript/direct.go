package transcript

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Readers page through a stream by sequence with batched direct gets, never through
// consumers of their own (a shipper may not make consumers), filtered by one literal
// subject where they read one session (a wildcard filter makes the server walk a large
// stream).
const (
	PageSize  = 256     // messages in one batch
	PageBytes = 4 << 20 // bytes in one batch, about: the server stops after the message that passes it
	// pageWait bounds one batch, whatever the caller's context allows.
	pageWait = 10 * time.Second
)

// Msg is a message as the stream stored it.
type Msg struct {
	Seq     uint64 // its stream sequence; 0 when the source does not say
	Subject string
	Time    time.Time
	Data    []byte
	// Input marks recorded input (the session's "rin" subject), numbered apart from output.
	Input bool
}

// Page is one batch of stored messages, in stream order.
type Page struct {
	Msgs []Msg
	// More says more messages were stored already past the last one: read on at once.
	More bool
	// Complete says the source knows the transcript ends here (ReadTranscript's Complete).
	Complete bool
}

// ReadPage reads the messages stream stored from sequence from on, of subject alone unless
// it is "", through one batched direct get.
func ReadPage(ctx context.Context, js jetstream.JetStream, stream, subject string, from uint64) (Page, error) {
	bctx, cancel := context.WithTimeout(ctx, pageWait)
	defer cancel()
	opts := []jetstreamext.GetBatchOpt{jetstreamext.GetBatchSeq(from), jetstreamext.GetBatchMaxBytes(PageBytes)}
	if subject != "" {
		opts = append(opts, jetstreamext.GetBatchSubject(subject))
	}
	msgs, err := jetstreamext.GetBatch(bctx, js, stream, PageSize, opts...)
	if err != nil {
		return Page{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
	}
	var p Page
	answered := false
	next := from
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			answered = true // nothing (more) to read
			break
		}
		if err != nil {
			return Page{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
		}
		sm, pending, err := stored(m, subject, next)
		if err != nil {
			return Page{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
		}
		answered = true
		p.Msgs = append(p.Msgs, sm)
		p.More = pending > 0
		next = sm.Seq + 1
	}
	// The batch ends at its end-of-batch mark, or silently when bctx runs out: what came
	// until then stands, and More says whether to read on.
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	if !answered {
		return Page{}, fmt.Errorf("read %s from %d: no answer within %v", stream, from, pageWait)
	}
	return p, nil
}

// numPendingHeader is the header a batched direct get adds: messages (of the subject)
// after this one.
const numPendingHeader = "Nats-Num-Pending"

// stored reads what the server says of a message of a batch: from the last value of each
// of its headers, which the server adds after any the message was published with, so a
// publisher cannot pass off its own. The message must be of subject (when not "") and no
// earlier than from, so that a reader always moves on.
func stored(m *jetstream.RawStreamMsg, subject string, from uint64) (Msg, uint64, error) {
	last := func(key string) string {
		v := m.Header.Values(key)
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	sm := Msg{Subject: last(jetstream.SubjectHeader), Data: m.Data}
	var err error
	if sm.Seq, err = strconv.ParseUint(last(jetstream.SequenceHeader), 10, 64); err != nil {
		return Msg{}, 0, fmt.Errorf("a message without its sequence: %w", err)
	}
	if sm.Seq < from || sm.Seq == 0 {
		return Msg{}, 0, fmt.Errorf("message %d came after %d", sm.Seq, from-1)
	}
	if subject != "" && sm.Subject != subject {
		return Msg{}, 0, fmt.Errorf("message %d is of %q, not %q", sm.Seq, sm.Subject, subject)
	}
	if sm.Time, err = time.Parse(time.RFC3339Nano, last(jetstream.TimeStampHeaer)); err != nil {
		return Msg{}, 0, fmt.Errorf("message %d without its time: %w", sm.Seq, err)
	}
	pending, err := strconv.ParseUint(last(numPendingHeader), 10, 64)
	if err != nil {
		return Msg{}, 0, fmt.Errorf("message %d without the count pending: %w", sm.Seq, err)
	}
	return sm, pending, nil
}

// Direct reads one session's messages from the transcript stream with batched direct gets:
// its output subject and, when its input is recorded, its input subject, each by itself
// (a literal subject), merged back into stream order.
type Direct struct {
	js      jetstream.JetStream
	stream  string
	sources []*directSource
}

// directSource is one subject and the next stream sequence to read it from.
type directSource struct {
	subject string
	input   bool
	next    uint64
}

// NewDirect reads stream from sequence from on (1 for the start): subject out, and
// subject in (recorded input) unless it is "".
func NewDirect(js jetstream.JetStream, stream string, from uint64, out, in string) *Direct {
	from = max(from, 1)
	d := &Direct{js: js, stream: stream, sources: []*directSource{{subject: out, next: from}}}
	if in != "" {
		d.sources = append(d.sources, &directSource{subject: in, input: true, next: from})
	}
	return d
}

var _ Source = (*Direct)(nil)

// Next returns the messages stored since the last call, in stream order, and whether more
// were stored already (More: call again at once) rather than none (caught up). after is
// not used: the stream is read by position.
func (d *Direct) Next(ctx context.Context, _ uint64) (Page, error) {
	pages := make([]Page, len(d.sources))
	var out Page
	// A subject whose batch stopped short of its end bounds the others: past its last
	// message, a message of another subject could come before one of its own not read yet.
	bound := uint64(math.MaxUint64)
	for i, src := range d.sources {
		p, err := ReadPage(ctx, d.js, d.stream, src.subject, src.next)
		if err != nil {
			return Page{}, err
		}
		pages[i] = p
		if p.More {
			out.More = true
			bound = min(bound, p.Msgs[len(p.Msgs)-1].Seq)
		}
	}
	for {
		// The earliest message not taken yet, of any subject, up to bound.
		pick := -1
		for i, p := range pages {
			if len(p.Msgs) > 0 && p.Msgs[0].Seq <= bound && (pick < 0 || p.Msgs[0].Seq < pages[pick].Msgs[0].Seq) {
				pick = i
			}
		}
		if pick < 0 {
			break
		}
		m, src := pages[pick].Msgs[0], d.sources[pick]
		pages[pick].Msgs = pages[pick].Msgs[1:]
		src.next = m.Seq + 1
		m.Input = src.input
		out.Msgs = append(out.Msgs, m)
	}
	return out, nil
}
