package channel

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/agent/logkey"
)

// pending is a frame published on Out and not yet acknowledged by the stream.
type pending struct {
	msg *nats.Msg
	id  string // Nats-Msg-Id, so the stream drops a retried duplicate
	seq uint64
	fut jetstream.PubAckFuture // nil when the frame could not be published at all
}

func msgID(session string, seq uint64) string {
	return session + "/" + strconv.FormatUint(seq, 10)
}

// publishRetry publishes p, retrying with backoff while the client refuses (too many
// publishes awaiting acks, connection trouble) for up to RecordTimeout.
func (c *Channel) publishRetry(p pending) jetstream.PubAckFuture {
	var first time.Time
	b := backoff{cur: 20 * time.Millisecond, max: 2 * time.Second}
	for {
		fut, err := c.cfg.JS.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id))
		if err == nil {
			return fut
		}
		if c.isFailed() {
			return nil
		}
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) > c.cfg.RecordTimeout {
			c.fail(fmt.Errorf("publish frame %d: %w", p.seq, err))
			return nil
		}
		c.log.Debug("publish frame: retrying", logkey.Frame, p.seq, logkey.Err, err)
		time.Sleep(b.next())
	}
}

// track awaits the stream's acknowledgement of each published frame, in order, and
// republishes (same message id) a frame whose publish failed.
func (c *Channel) track() {
	defer close(c.out.trackDone)
	for p := range c.out.pending {
		c.await(p)
	}
}

func (c *Channel) await(p pending) {
	var first time.Time
	b := backoff{cur: 50 * time.Millisecond, max: 2 * time.Second}
	fut := p.fut
	for fut != nil {
		var err error
		select {
		case <-fut.Ok():
			return
		case err = <-fut.Err():
		}
		if c.isFailed() {
			return
		}
		if first.IsZero() {
			first = time.Now()
		}
		c.log.Debug("frame not recorded: retrying", logkey.Frame, p.seq, logkey.Err, err)
		for {
			if time.Since(first) > c.cfg.RecordTimeout {
				c.fail(fmt.Errorf("record frame %d: %w", p.seq, err))
				return
			}
			time.Sleep(b.next())
			if fut, err = c.cfg.JS.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id)); err == nil {
				break
			}
		}
	}
}
