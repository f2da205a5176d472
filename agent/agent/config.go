package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/version"
	"github.com/tetherhq/tether/streams/wire/fwd"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Config configures an Agent.
type Config struct {
	// BrokerURL is the NATS URL of the broker, e.g. nats://broker.example:4222.
	BrokerURL string
	// StateDir holds the agent's key (agent.nk), identity (agent.json) and the records of
	// its sessions' processes (sessions/).
	StateDir string
	// ActivationID and ActivationCode enroll an agent that has no key yet.
	ActivationID   string
	ActivationCode string
	// Version is reported to the control plane (default version.Version).
	Version string
	// Logger receives the agent's logs; nothing is logged when nil.
	Logger *slog.Logger
	// NATSOptions are appended to the agent's connection options (TLS, tests).
	NATSOptions []nats.Option
	// AttachTimeout is how long a started session waits for its client's first frame
	// (default 30s).
	AttachTimeout time.Duration
	// ReconnectMax caps the backoff between reconnection and registration attempts
	// (default 10s).
	ReconnectMax time.Duration
	// ForwardBudget bounds, in bytes, the forwarded data all the agent's sessions
	// together hold for destinations that have not taken it (default
	// DefaultForwardBudget): past it, the connection holding the most is reset, saying
	// why. Each session also has its own (fwd.DefaultBudget).
	ForwardBudget int
}

// Defaults.
const (
	DefaultBrokerURL     = "nats://127.0.0.1:4222"
	DefaultStateDir      = "/var/lib/tether-agent"
	DefaultAttachTimeout = 30 * time.Second
	DefaultReconnectMax  = 10 * time.Second
	// DefaultForwardBudget is two sessions' worth of fwd.DefaultBudget.
	DefaultForwardBudget = 2 * fwd.DefaultBudget
)

// withDefaults fills in unset fields.
func (c Config) withDefaults() Config {
	if c.BrokerURL == "" {
		c.BrokerURL = DefaultBrokerURL
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Version == "" {
		c.Version = version.Version
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AttachTimeout <= 0 {
		c.AttachTimeout = DefaultAttachTimeout
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
	if c.ForwardBudget <= 0 {
		c.ForwardBudget = DefaultForwardBudget
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if (c.ActivationID == "") != (c.ActivationCode == "") {
		return errors.New("activation id and activation code must be given together")
	}
	if c.ActivationID != "" {
		if err := subjects.ValidName(c.ActivationID); err != nil {
			return fmt.Errorf("activation id: %w", err)
		}
	}
	if c.AttachTimeout < 0 {
		return fmt.Errorf("attach timeout %v: must not be negative", c.AttachTimeout)
	}
	if c.ReconnectMax < 0 {
		return fmt.Errorf("reconnect max %v: must not be negative", c.ReconnectMax)
	}
	if c.ForwardBudget < 0 {
		return fmt.Errorf("forward budget %d: must not be negative", c.ForwardBudget)
	}
	return nil
}
