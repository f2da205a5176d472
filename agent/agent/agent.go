package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/statelock"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/fwd"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// ErrNotEnrolled is returned by Run when the agent has no identity and no activation to
// enroll with.
var ErrNotEnrolled = errors.New("agent is not enrolled")

// ErrSecondAgent is returned by Run when the broker refuses this process because another
// agent process with the same identity is connected: one instance, one process.
var ErrSecondAgent = errors.New("refused by the broker: a second agent with this identity")

// Agent is one tether-agent: a connection to the broker and the sessions running on it.
type Agent struct {
	cfg Config
	log *slog.Logger
	// fwdBudget bounds the forwarded data all sessions hold (Config.ForwardBudget).
	fwdBudget *fwd.Budget
	// runID names this process to the broker (api.RegisterRequest): picked at random
	// in New, the same across reconnects.
	runID string

	closeOnce sync.Once
	closeCh   chan struct{} // closed by Close

	// Set up by Run.
	id          *identity
	nc          *nats.Conn
	js          jetstream.JetStream
	connClosed  chan struct{}
	closedOnce  sync.Once
	reconnected chan struct{} // a (re)connect happened: register again

	mu       sync.Mutex
	running  bool
	runDone  chan struct{}
	closing  bool // no new sessions
	sessions map[string]*session
	wg       sync.WaitGroup // session goroutines
}

// New checks cfg and returns an agent ready to Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	run := make([]byte, api.RunIDLen/2)
	_, _ = rand.Read(run) // never fails (crypto/rand)
	return &Agent{
		cfg:         cfg,
		log:         cfg.Logger,
		fwdBudget:   fwd.NewBudget(cfg.ForwardBudget, "this agent's"),
		runID:       hex.EncodeToString(run),
		closeCh:     make(chan struct{}),
		connClosed:  make(chan struct{}),
		reconnected: make(chan struct{}, 1),
		sessions:    make(map[string]*session),
	}, nil
}

// InstanceID returns the agent's instance id once Run has established it.
func (a *Agent) InstanceID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id == nil {
		return ""
	}
	return a.id.instanceID
}

// Run enrolls the agent if it has no identity yet, connects, registers and serves
// sessions until ctx is cancelled or Close is called. It then ends every session (each
// gets its Exit frame and is reported to the control plane), drains the connection and
// returns nil. When the broker refuses it because another process with the same
// identity is connected, it stops the same way and returns an ErrSecondAgent.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return errors.New("agent: Run called twice")
	}
	a.running = true
	a.runDone = make(chan struct{})
	a.mu.Unlock()
	defer close(a.runDone)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-a.closeCh:
			cancel()
		case <-ctx.Done():
		}
	}()

	// One agent per state directory: a second one with the same key would only be
	// refused by the broker (ErrSecondAgent); the lock says so before it connects.
	_, statErr := os.Stat(a.cfg.StateDir)
	lock, err := statelock.Acquire(a.cfg.StateDir, "tether-agent")
	if err != nil {
		return err
	}
	defer lock.Release()
	a.reapOrphans() // what a crashed agent before this one left running (orphans.go)

	id, err := a.identity(ctx)
	if err != nil {
		if os.IsNotExist(statErr) {
			// A refused enrollment leaves no state behind: not even the lock.
			lock.Release()
			_ = os.Remove(filepath.Join(a.cfg.StateDir, statelock.File))
			_ = os.Remove(a.cfg.StateDir)
		}
		return err
	}
	a.mu.Lock()
	a.id = id
	a.mu.Unlock()
	a.log = a.cfg.Logger.With(logkey.InstanceID, id.instanceID)

	if err := a.connect(); err != nil {
		return err
	}
	if _, err := a.nc.Subscribe(subjects.AgentControl(id.instanceID), a.onControl); err != nil {
		a.nc.Close()
		return fmt.Errorf("subscribe %s: %w", subjects.AgentControl(id.instanceID), err)
	}
	a.log.Info("agent started", logkey.Broker, a.cfg.BrokerURL)

	loopDone := make(chan struct{})
	var loopErr error // ErrSecondAgent, or nil
	go func() {
		defer close(loopDone)
		loopErr = a.maintain(ctx)
	}()
	select {
	case <-ctx.Done():
	case <-loopDone: // refused: another process of this instance is connected
	}
	cancel()
	a.shutdown()
	<-loopDone
	a.drain()
	return loopErr
}

// identity loads the agent's identity or enrolls it.
func (a *Agent) identity(ctx context.Context) (*identity, error) {
	id, err := loadIdentity(a.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if id != nil && id.instanceID != "" {
		if a.cfg.ActivationID != "" {
			a.log.Info("already enrolled: ignoring the activation", logkey.InstanceID, id.instanceID)
		}
		return id, nil
	}
	if a.cfg.ActivationID == "" {
		if id != nil {
			return nil, fmt.Errorf("state dir %s has a key but no %s: enroll again with an activation id and code", a.cfg.StateDir, StateFile)
		}
		return nil, fmt.Errorf("%w (no key in %s): start it once with an activation id and code", ErrNotEnrolled, a.cfg.StateDir)
	}
	id, err = a.enroll(ctx)
	if err != nil {
		return nil, err
	}
	a.log.Info("enrolled", logkey.InstanceID, id.instanceID)
	return id, nil
}

// shutdown ends every session with ReasonAgentShutdown and waits until each one has sent
// its Exit frame and been reported.
func (a *Agent) shutdown() {
	a.mu.Lock()
	a.closing = true
	list := make([]*session, 0, len(a.sessions))
	for _, s := range a.sessions {
		list = append(list, s)
	}
	a.mu.Unlock()
	if len(list) > 0 {
		a.log.Info("ending sessions", logkey.Count, len(list))
	}
	for _, s := range list {
		s.end(api.ReasonAgentShutdown)
	}
	a.wg.Wait()
}

// drain drains the connection and waits for it to close.
func (a *Agent) drain() {
	if err := a.nc.Drain(); err != nil {
		a.nc.Close()
	}
	t := time.NewTimer(35 * time.Second) // nats.go's drain timeout is 30s
	defer t.Stop()
	select {
	case <-a.connClosed:
	case <-t.C:
		a.nc.Close()
	}
	a.log.Info("agent stopped")
}

// Close stops a running agent as cancelling Run's context does, and waits for Run to
// return. It is idempotent.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() { close(a.closeCh) })
	a.mu.Lock()
	done := a.runDone
	a.mu.Unlock()
	if done != nil {
		<-done
	}
	return nil
}

// sessionIDs lists the sessions the agent is running.
func (a *Agent) sessionIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.sessions))
	for id := range a.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// endSessions ends the listed sessions; unknown ids are ignored.
func (a *Agent) endSessions(ids []string, reason string) {
	for _, id := range ids {
		a.mu.Lock()
		s := a.sessions[id]
		a.mu.Unlock()
		if s != nil {
			s.log.Info("control plane ended the session")
			s.end(reason)
		}
	}
}

func (a *Agent) remove(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sessions[s.id] == s {
		delete(a.sessions, s.id)
	}
}
