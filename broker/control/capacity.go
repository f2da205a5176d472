package control

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
)

// capacity is how full the transcript stream is, as last read. The stream refuses frames
// when full (DiscardNew), and a session whose frames are refused ends: no session starts
// while the stream has less than the reserve free.
type capacity struct {
	mu          sync.Mutex
	last        api.TranscriptCapacity // State "" until the stream is first read
	refusedNote time.Time              // when a refused start was last published as an event

	refused atomic.Uint64 // sessions refused since the broker started
	purged  atomic.Uint64 // shipped sessions removed from the stream
}

// capacityFresh is how old a reading StartSession takes without reading the stream again.
const capacityFresh = time.Second

// refusedEventEvery bounds how often refused starts are published as events (each is
// counted and logged).
const refusedEventEvery = 10 * time.Second

// measure is the capacity of a stream whose state is st, under config sc.
func measure(st jetstream.StreamState, sc jetstream.StreamConfig, reserve int64) api.TranscriptCapacity {
	c := api.TranscriptCapacity{
		Bytes: st.Bytes, MaxBytes: sc.MaxBytes, Messages: st.Msgs, MaxMessages: sc.MaxMsgs,
		ReserveBytes: reserve, State: api.CapacityOK,
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = -1
	}
	if c.MaxMessages <= 0 {
		c.MaxMessages = -1
	}
	full := false
	if c.MaxBytes > 0 {
		c.Percent = 100 * float64(c.Bytes) / float64(c.MaxBytes)
		full = int64(c.Bytes)+max(reserve, 0) >= c.MaxBytes
	}
	if c.MaxMessages > 0 {
		c.Percent = max(c.Percent, 100*float64(c.Messages)/float64(c.MaxMessages))
		// The same share of the messages is kept free as of the bytes.
		reserveMsgs := int64(1)
		if c.MaxBytes > 0 && reserve > 0 {
			reserveMsgs = max(1, c.MaxMessages*reserve/c.MaxBytes)
		}
		full = full || int64(c.Messages)+reserveMsgs > c.MaxMessages
	}
	switch {
	case full:
		c.State = api.CapacityFull
	case c.Percent >= api.CapacityHighWater:
		c.State = api.CapacityWarning
	}
	return c
}

// TranscriptCapacity is the transcript stream's capacity as last read, with this
// broker's counts.
func (s *Service) TranscriptCapacity() api.TranscriptCapacity {
	s.capacity.mu.Lock()
	c := s.capacity.last
	s.capacity.mu.Unlock()
	c.RefusedStarts, c.ShippedPurged = s.capacity.refused.Load(), s.capacity.purged.Load()
	return c
}

// readCapacity reads the stream's state, unless the last reading is younger than fresh,
// and reports a change of state (a log line and an event).
func (s *Service) readCapacity(ctx context.Context, fresh time.Duration) (api.TranscriptCapacity, error) {
	s.capacity.mu.Lock()
	defer s.capacity.mu.Unlock()
	if c := s.capacity.last; c.State != "" && s.now().Sub(c.CheckedAt) < fresh {
		return c, nil
	}
	st, err := s.js.Stream(ctx, jsdef.StreamTranscripts)
	if err != nil {
		return api.TranscriptCapacity{}, fmt.Errorf("transcript stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return api.TranscriptCapacity{}, fmt.Errorf("transcript stream: %w", err)
	}
	c := measure(info.State, info.Config, s.cfg.TranscriptReserve)
	c.CheckedAt = s.now().UTC()
	was := s.capacity.last.State
	s.capacity.last = c
	if c.State == was || (was == "" && c.State == api.CapacityOK) {
		return c, nil
	}
	attrs := []any{logkey.Stream, jsdef.StreamTranscripts, logkey.State, c.State, logkey.Bytes, c.Bytes,
		logkey.MaxBytes, c.MaxBytes, logkey.Messages, c.Messages, logkey.Percent, fmt.Sprintf("%.1f", c.Percent)}
	switch c.State {
	case api.CapacityFull:
		s.log.Warn("the transcript stream is full: no new session starts until recordings are shipped and leave it",
			append(attrs, logkey.Reserve, c.ReserveBytes)...)
	case api.CapacityWarning:
		s.log.Warn("the transcript stream is filling up", attrs...)
	default:
		s.log.Info("the transcript stream has room again", attrs...)
	}
	s.emitCapacity(c, nil)
	return c, nil
}

// emitCapacity publishes c as a capacity event, in the background: the caller may hold
// locks or answer a request.
func (s *Service) emitCapacity(c api.TranscriptCapacity, refused *events.RefusedStart) {
	d := events.Transcripts{
		Stream: jsdef.StreamTranscripts, State: c.State, Bytes: c.Bytes, MaxBytes: c.MaxBytes,
		Messages: c.Messages, MaxMessages: c.MaxMessages, Percent: c.Percent, ReserveBytes: c.ReserveBytes,
		RefusedStarts: s.capacity.refused.Load(), Refused: refused,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		if err := s.cfg.Emitter.EmitTranscripts(ctx, events.Capacity, d); err != nil {
			s.log.Error("publish transcript capacity event", logkey.Err, err)
		}
	}()
}

// errTranscriptsFull refuses a session while the transcript stream has less than the
// reserve free: its output could not be recorded, and it would end as recording_failed.
func (s *Service) errTranscriptsFull(ctx context.Context, user, target string) error {
	c, err := s.readCapacity(ctx, capacityFresh)
	if err != nil {
		// The stream's state unknown, the agent's recording decides.
		s.log.Warn("read the transcript stream's capacity", logkey.Err, err)
		return nil
	}
	if c.State != api.CapacityFull {
		return nil
	}
	n := s.capacity.refused.Add(1)
	s.log.Warn("session refused: the transcript stream is full", logkey.User, user, logkey.Target, target,
		logkey.Bytes, c.Bytes, logkey.MaxBytes, c.MaxBytes, logkey.Reserve, c.ReserveBytes, logkey.Count, n)
	s.capacity.mu.Lock()
	note := s.now().Sub(s.capacity.refusedNote) >= refusedEventEvery
	if note {
		s.capacity.refusedNote = s.now()
	}
	s.capacity.mu.Unlock()
	if note {
		s.emitCapacity(c, &events.RefusedStart{Target: target, User: user})
	}
	used := fmt.Sprintf("%d of %d bytes", c.Bytes, c.MaxBytes)
	if c.MaxMessages > 0 && c.MaxBytes > 0 {
		used += fmt.Sprintf(", %d of %d messages", c.Messages, c.MaxMessages)
	} else if c.MaxMessages > 0 {
		used = fmt.Sprintf("%d of %d messages", c.Messages, c.MaxMessages)
	}
	return &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf(
		"the transcript stream %s is full (%s used; a session needs %d bytes free): no session starts until recordings are shipped and leave the stream "+
			"(%s after shipping). An operator can check the shippers with tether admin ship status, or raise transcripts.max_bytes",
		jsdef.StreamTranscripts, used, c.ReserveBytes, s.cfg.ShippedGrace)}
}

// watchCapacity reads the stream's capacity every CapacityEvery.
func (s *Service) watchCapacity() {
	t := time.NewTicker(s.cfg.CapacityEvery)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.CapacityEvery+5*time.Second)
		if _, err := s.readCapacity(ctx, 0); err != nil && s.ctx.Err() == nil {
			s.log.Warn("read the transcript stream's capacity", logkey.Err, err)
		}
		cancel()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}
