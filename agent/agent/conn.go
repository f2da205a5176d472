package agent

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/retry"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Limits of the output publisher shared by all sessions.
const (
	maxPendingAcks = 256
	pubAckTimeout  = 10 * time.Second
)

// connect opens the agent's long-lived connection, authenticated by its key alone. It
// succeeds even while the broker is down (the connection then keeps retrying).
func (a *Agent) connect() error {
	id := a.id
	opts := append([]nats.Option{
		nats.Nkey(id.pub, id.kp.Sign),
		nats.CustomInboxPrefix(subjects.AgentInbox(id.instanceID)),
		nats.Name("tether-agent " + id.instanceID),
		nats.MaxReconnects(-1),
		// A restarting broker refuses connections until its authorization is up: that
		// must not end the agent (nats.go gives up after the same refusal twice).
		nats.IgnoreAuthErrorAbort(),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return reconnectPolicy(a.cfg.ReconnectMax).Delay(attempts)
		}),
		nats.ConnectHandler(func(*nats.Conn) {
			a.log.Info("connected to broker")
			a.kick()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			a.log.Info("reconnected to broker", logkey.Broker, nc.ConnectedUrlRedacted())
			a.kick()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			a.log.Warn("disconnected from broker", logkey.Err, err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				a.log.Warn("connection error", logkey.Subject, sub.Subject, logkey.Err, err)
				return
			}
			a.log.Warn("connection error", logkey.Err, err)
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			a.closedOnce.Do(func() { close(a.connClosed) })
		}),
	}, a.cfg.NATSOptions...)
	nc, err := nats.Connect(a.cfg.BrokerURL, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", a.cfg.BrokerURL, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(maxPendingAcks),
		jetstream.WithPublishAsyncTimeout(pubAckTimeout))
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	a.nc, a.js = nc, js
	return nil
}

// kick asks the registration loop to register again.
func (a *Agent) kick() {
	select {
	case a.reconnected <- struct{}{}:
	default:
	}
}

// reconnectPolicy spaces reconnections, registrations and end reports: about half a
// second at first (jittered, so agents that lost the same broker do not return in step),
// doubling up to max.
func reconnectPolicy(max time.Duration) retry.Policy {
	return retry.Policy{Min: min(500*time.Millisecond, max), Max: max}
}
