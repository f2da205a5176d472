package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/wire/api"
)

// msgSizeHeader carries a message's payload size in a headers-only delivery.
const msgSizeHeader = "Nats-Msg-Size"

// ledger tallies what each instance holds in the transcript stream, from a headers-only
// reading of everything the stream stores (each frame's subject and size), so that one
// node cannot fill the stream for everyone: past its budget, an instance's sessions end
// and it may start no new one until its sessions' frames leave the stream.
type ledger struct {
	budget int64 // bytes an instance may hold; <= 0: no budget
	maxAge time.Duration

	mu        sync.Mutex
	bySession map[string]*sessionBytes
	byTarget  map[string]int64
	over      map[string]bool
	stop      func()
}

type sessionBytes struct {
	target string
	bytes  int64
	last   time.Time // when the stream stored its last frame
	seq    uint64    // and at which sequence
}

func newLedger(budget int64) *ledger {
	return &ledger{budget: budget, bySession: map[string]*sessionBytes{}, byTarget: map[string]int64{}, over: map[string]bool{}}
}

// startLedger reads the stream from its first message, then follows it.
func (s *Service) startLedger(ctx context.Context) error {
	st, err := s.js.Stream(ctx, jsdef.StreamTranscripts)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	s.ledger.maxAge = st.CachedInfo().Config.MaxAge
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { s.tally(m) })
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	s.ledger.stop = func() {
		cc.Stop()
		jsdef.DeleteOrdered(s.js, jsdef.StreamTranscripts, cons)
	}
	return nil
}

func (s *Service) stopLedger() {
	if s.ledger.stop != nil {
		s.ledger.stop()
	}
}

// tally counts one stored frame.
func (s *Service) tally(m jetstream.Msg) {
	// tether.s.<target>.<owner>.<sid>.<kind>
	t := strings.Split(m.Subject(), ".")
	if len(t) != 6 {
		return
	}
	target, sid := t[2], t[4]
	// The server writes the size after any value the publisher wrote: an agent must
	// not choose what its frames count for.
	sizes := m.Headers().Values(msgSizeHeader)
	if len(sizes) == 0 {
		return
	}
	size, err := strconv.ParseInt(sizes[len(sizes)-1], 10, 64)
	if err != nil || size < 0 {
		return
	}
	at, seq := time.Now(), uint64(0)
	if md, err := m.Metadata(); err == nil {
		at, seq = md.Timestamp, md.Sequence.Stream
	}
	if held, newlyOver := s.ledger.count(target, sid, size, at, seq); newlyOver {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.overBudget(target, held)
		}()
	}
}

// count adds a frame of size bytes, stored at seq, to session sid of target. newlyOver
// reports that it took target past its budget.
func (l *ledger) count(target, sid string, size int64, at time.Time, seq uint64) (held int64, newlyOver bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sb, ok := l.bySession[sid]
	if !ok {
		sb = &sessionBytes{target: target}
		l.bySession[sid] = sb
	}
	sb.bytes += size
	sb.last, sb.seq = at, max(sb.seq, seq)
	l.byTarget[target] += size
	held = l.byTarget[target]
	newlyOver = l.budget > 0 && held > l.budget && !l.over[target]
	if newlyOver {
		l.over[target] = true
	}
	return held, newlyOver
}

// drop forgets the frames of sessions that left the stream (purged after their retention,
// aged out by the stream's MaxAge, or discarded to keep it under its MaxBytes).
func (l *ledger) drop(sids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sid := range sids {
		sb, ok := l.bySession[sid]
		if !ok {
			continue
		}
		delete(l.bySession, sid)
		l.byTarget[sb.target] -= sb.bytes
		if l.byTarget[sb.target] <= 0 {
			delete(l.byTarget, sb.target)
		}
		if l.byTarget[sb.target] <= l.budget {
			delete(l.over, sb.target)
		}
	}
}

// aged lists the sessions whose every frame is older than the stream keeps.
func (l *ledger) aged(now time.Time) []string {
	if l.maxAge <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for sid, sb := range l.bySession {
		if now.Sub(sb.last) > l.maxAge {
			out = append(out, sid)
		}
	}
	return out
}

// discarded lists the sessions whose every frame is below first, the stream's first
// sequence: the stream discarded them to stay under its MaxBytes. A session only partly
// discarded still counts in full until its last frame goes.
func (l *ledger) discarded(first uint64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for sid, sb := range l.bySession {
		if sb.seq < first {
			out = append(out, sid)
		}
	}
	return out
}

// held is how many bytes target holds in the stream, and whether that is past its budget.
func (l *ledger) held(target string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byTarget[target], l.over[target]
}

// errOverBudget refuses a session on an instance that holds more than its budget.
func (s *Service) errOverBudget(target string) error {
	held, over := s.ledger.held(target)
	if !over {
		return nil
	}
	return &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf(
		"target %s holds %d bytes of transcripts in the stream, past its budget of %d: no new session until older ones leave the stream (shipped, then past their grace period and retention)",
		target, held, s.ledger.budget)}
}

// overBudget ends the sessions of an instance that went past its budget.
func (s *Service) overBudget(target string, held int64) {
	s.log.Warn("instance past its transcript budget: ending its sessions", logkey.Target, target, logkey.Bytes, held, logkey.Budget, s.ledger.budget)
	s.mu.Lock()
	var ids []string
	for id, se := range s.active {
		if se.Target == target {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.AgentTimeout)
	defer cancel()
	for _, id := range ids {
		s.endOnAgent(ctx, id, api.ReasonTranscriptBudget, fmt.Sprintf("%s holds %d bytes in the transcript stream, past its budget of %d", target, held, s.ledger.budget))
	}
}

// purgeExpired removes from the transcript stream the frames of ended sessions whose
// recordings are shipped, once ShippedGrace has passed since (and their retention, the
// preference transcriptRetentionDays, if that ends later), and forgets in the ledger the
// sessions the stream aged out or discarded. A session not shipped stays until the stream
// ages it out: its frames are the only copy.
func (s *Service) purgeExpired(ctx context.Context) {
	now := s.now()
	s.ledger.drop(s.ledger.aged(now)...)
	sessions, err := listJSON[api.Session](ctx, s.b.Sessions)
	if err != nil {
		s.log.Warn("retention: list sessions", logkey.Err, err)
		return
	}
	st, err := s.js.Stream(ctx, jsdef.StreamTranscripts)
	if err != nil {
		s.log.Warn("retention: transcript stream", logkey.Err, err)
		return
	}
	if info, err := st.Info(ctx); err == nil {
		s.ledger.drop(s.ledger.discarded(info.State.FirstSeq)...)
	} else {
		s.log.Warn("retention: transcript stream", logkey.Err, err)
	}
	purged := 0
	for _, se := range sessions {
		r := se.Recording
		if !se.Ended() || r == nil || r.Purged {
			continue
		}
		shipped, ok := s.shippedAt(ctx, se.ID)
		if !ok {
			continue
		}
		due := shipped.Add(s.cfg.ShippedGrace)
		if r.Retention > 0 {
			due = later(due, se.EndedAt.Add(r.Retention.Std()))
		}
		if now.Before(due) {
			continue
		}
		filter := "tether.s." + se.Target + "." + se.Owner + "." + se.ID + ".*"
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
			s.log.Warn("retention: purge transcript", logkey.SessionID, se.ID, logkey.Err, err)
			continue
		}
		s.ledger.drop(se.ID)
		s.capacity.purged.Add(1)
		purged++
		_, err := updateJSON(ctx, s.b.Sessions, se.ID, func(v *api.Session) error {
			if v.Recording == nil {
				return errors.New("session has no recording settings")
			}
			v.Recording.Purged = true
			return nil
		})
		if err != nil {
			s.log.Warn("retention: mark purged", logkey.SessionID, se.ID, logkey.Err, err)
			continue
		}
		s.log.Info("shipped transcript removed from the stream", logkey.SessionID, se.ID,
			logkey.Grace, s.cfg.ShippedGrace, logkey.Retention, r.Retention.Std())
	}
	if purged > 0 {
		if _, err := s.readCapacity(ctx, 0); err != nil {
			s.log.Warn("read the transcript stream's capacity", logkey.Err, err)
		}
	}
}

// shippedAt is when session id's recording was shipped: when the stream stored its index
// entry (the server's clock, not one a shipper writes). ok is false while it is not.
func (s *Service) shippedAt(ctx context.Context, id string) (time.Time, bool) {
	e, err := s.b.Recordings.Get(ctx, ship.IndexKey(id))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("retention: recording index", logkey.SessionID, id, logkey.Err, err)
		}
		return time.Time{}, false
	}
	var rec api.Recording
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.SessionID != id {
		return time.Time{}, false
	}
	return e.Created(), true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *Service) retention() {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SweepEvery+time.Minute)
			s.purgeExpired(ctx)
			cancel()
		}
	}
}
