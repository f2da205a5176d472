package channel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/retry"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// pending is a frame published on Out (or Rin) and not yet acknowledged by the stream.
type pending struct {
	msg *nats.Msg
	buf *[]byte // msg.Data's pooled buffer; back to the pool once the stream has the frame
	seq uint64
	fut jetstream.PubAckFuture // nil when the frame could not be published at all
	// input marks a recorded input frame on Rin, numbered apart from the frames on Out.
	input bool
}

// name names the frame in errors and logs.
func (p pending) name() string {
	if p.input {
		return "input frame " + strconv.FormatUint(p.seq, 10)
	}
	return "frame " + strconv.FormatUint(p.seq, 10)
}

// Frames carry no message id (Nats-Msg-Id). The stream detects duplicates by id across
// all its subjects, so an id is something one agent could use against another: a frame
// stored first with the id another session's frame will carry makes the stream drop that
// frame as a duplicate. A frame published again after a lost acknowledgement may be
// stored twice instead; every reader keeps one frame per sequence number.

// publishRetry publishes p, retrying with backoff while the client refuses (too many
// publishes awaiting acks, connection trouble) for up to RecordTimeout.
func (c *Channel) publishRetry(p pending) jetstream.PubAckFuture {
	var first time.Time
	b := publishBackoff.Start()
	for {
		fut, err := c.cfg.JS.PublishMsgAsync(p.msg)
		if err == nil {
			return fut
		}
		if c.isFailed() {
			return nil
		}
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) > c.cfg.RecordTimeout {
			c.fail(fmt.Errorf("publish %s: %w", p.name(), err))
			return nil
		}
		c.log.Debug("publish frame: retrying", logkey.Subject, p.msg.Subject, logkey.Frame, p.seq, logkey.Err, err)
		c.waitRetry(b, first)
	}
}

// Backoffs between attempts to publish a frame the client refused, and to publish again a
// frame the stream did not acknowledge.
var (
	publishBackoff = retry.Policy{Min: 20 * time.Millisecond, Max: 2 * time.Second}
	recordBackoff  = retry.Policy{Min: 50 * time.Millisecond, Max: 2 * time.Second}
)

// waitRetry waits for b's next delay, or until the channel fails or finishes, or the frame
// first refused at first has been refused for RecordTimeout.
func (c *Channel) waitRetry(b *retry.Backoff, first time.Time) {
	ctx, cancel := context.WithDeadline(c.stop, first.Add(c.cfg.RecordTimeout))
	defer cancel()
	_ = b.Wait(ctx)
}

// track awaits the stream's acknowledgement of each published frame, in order, and
// republishes a frame whose publish failed.
func (c *Channel) track() {
	defer close(c.out.trackDone)
	for p := range c.out.pending {
		c.await(p)
	}
}

func (c *Channel) await(p pending) {
	var first time.Time
	b := recordBackoff.Start()
	fut := p.fut
	for fut != nil {
		var err error
		select {
		case <-fut.Ok():
			// The server has the frame, so the client is done with its bytes: nats.go
			// wrote them out before the ack could come back.
			putFrameBuf(p.buf)
			return
		case err = <-fut.Err():
		}
		if c.isFailed() {
			return
		}
		if refused(err) {
			// Publishing it again would be refused again, for as long as the stream is
			// full, while the session went on printing what is not recorded.
			c.fail(fmt.Errorf("record %s: the stream refused it: %w", p.name(), err))
			return
		}
		if first.IsZero() {
			first = time.Now()
		}
		c.log.Debug("frame not recorded: retrying", logkey.Subject, p.msg.Subject, logkey.Frame, p.seq, logkey.Err, err)
		for {
			if time.Since(first) > c.cfg.RecordTimeout {
				c.fail(fmt.Errorf("record %s: %w", p.name(), err))
				return
			}
			c.waitRetry(b, first)
			if c.isFailed() {
				return
			}
			if fut, err = c.cfg.JS.PublishMsgAsync(p.msg); err == nil {
				break
			}
		}
	}
}

// JetStream's error codes for a message the stream will not store, however often it is
// sent (nats-server's jetstream_errors_generated.go).
const (
	// errCodeStoreFailed (JSStreamStoreFailedF) carries the store's reason, which says
	// whether the stream is at a limit (see storeLimits) or, for example, closed for a
	// moment.
	errCodeStoreFailed jetstream.ErrorCode = 10077
	// errCodeInsufficientResources (JSInsufficientResourcesErr): the account or server has
	// no storage left.
	errCodeInsufficientResources jetstream.ErrorCode = 10023
)

// gateRefused is the status the broker answers a frame with when the session is not one
// running on the publishing agent (broker/control/refused.go): the session ended, or
// another agent process now holds the instance.
const gateRefused = 403

// storeLimits are the reasons nats-server's store gives (server/store.go: ErrMaxBytes,
// ErrMaxMsgs, ErrMaxMsgsPerSubject, ErrMsgTooLarge) for refusing a message to a stream
// that discards new messages at its limits.
var storeLimits = []string{
	"maximum bytes exceeded", "maximum messages exceeded", "maximum messages per subject exceeded", "message too large",
}

// refused says the stream refused a frame for good: it is at its limits, the frame is
// larger than it takes, or the broker's gate refused it. Anything else (a timeout, no
// responders while the connection is down, a stream closed for a moment) may pass on a
// retry.
func refused(err error) bool {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.Code == gateRefused && strings.HasSuffix(ae.Description, accounts.RefusedDescription) {
		return true // the session is not (or no longer) this agent's: nobody will take it
	}
	switch ae.ErrorCode {
	case jetstream.JSErrCodeStreamMessageExceedsMaximum, errCodeInsufficientResources:
		return true
	case errCodeStoreFailed:
		for _, r := range storeLimits {
			if strings.Contains(ae.Description, r) {
				return true
			}
		}
	}
	return false
}

// frameBufs recycles the buffers frames are encoded into: bulk output would otherwise
// allocate, clear and free a chunk-sized buffer per frame.
var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, frame.HeaderLen+frame.ChunkSize)
	return &b
}}

func getFrameBuf(n int) *[]byte {
	if n > frame.HeaderLen+frame.ChunkSize {
		b := make([]byte, 0, n)
		return &b
	}
	return frameBufs.Get().(*[]byte)
}

func putFrameBuf(b *[]byte) {
	if b != nil && cap(*b) == frame.HeaderLen+frame.ChunkSize {
		frameBufs.Put(b)
	}
}
