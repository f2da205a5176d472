package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/logsample"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Authorizer decides whether an action is allowed.
type Authorizer interface {
	Decide(ctx context.Context, in policies.Input) (policies.Decision, error)
}

// Emitter publishes session lifecycle events.
type Emitter interface {
	Emit(ctx context.Context, typ string, d events.Data) error
	// EmitTranscripts publishes an event about the transcript stream (its capacity).
	EmitTranscripts(ctx context.Context, typ string, d events.Transcripts) error
}

var (
	_ Authorizer = (*policies.Evaluator)(nil)
	_ Emitter    = (*events.Emitter)(nil)
)

// Config wires the service to its dependencies.
type Config struct {
	NC *nats.Conn // a control-plane connection in the service account
	// AgentNC, when set, is a second one, for agents' requests: users' requests then
	// never queue ahead of agents' heartbeats.
	AgentNC    *nats.Conn
	JS         jetstream.JetStream
	Buckets    *jsdef.Buckets
	Directory  *principals.Directory
	Authorizer Authorizer
	Emitter    Emitter
	Logger     *slog.Logger
	// HeartbeatInterval is what agents are told; AgentLostAfter without one marks an
	// instance ConnectionLost and ends its sessions.
	HeartbeatInterval time.Duration
	AgentLostAfter    time.Duration
	// ResumeWindow is how long a session outlives the loss of its client, as clients and
	// agents are told; 3 minutes when zero.
	ResumeWindow time.Duration
	// AgentTimeout bounds how long StartSession and TerminateSession wait for the agent.
	AgentTimeout time.Duration
	// Revoke closes the live connections made with a removed principal's NKEY; the auth
	// hook already refuses its next connection. Nil does nothing.
	Revoke func(nkey string)
	Now    func() time.Time
	// ServerName names this broker in audit records and policy status reports.
	ServerName string
	// Policy compiles and puts in force pushed policy bundles; nil refuses PushPolicy.
	Policy PolicyLoader
	// Recordings is where shipped recordings are read back from (GetRecording); nil
	// when this broker has no storage configured.
	Recordings ship.Uploader
	// TranscriptBudget is how many bytes of the transcript stream one instance may hold;
	// zero or less: no budget.
	TranscriptBudget int64
	// TranscriptReserve is the free space the transcript stream must have for a session
	// to start; zero or less: only a stream at its limit refuses.
	TranscriptReserve int64
	// ShippedGrace is how long a session's frames stay in the transcript stream after its
	// recording is shipped (and its retention, if longer); zero: removed at the next sweep.
	ShippedGrace time.Duration
	// SweepEvery is how often frames past their grace or retention are looked for
	// (default a minute), CapacityEvery how often the stream's capacity is read (default
	// 5 seconds).
	SweepEvery, CapacityEvery time.Duration
	// Sessions lets an agent's frames into the record while a session runs on it; nil
	// lets everything through (a control plane on a NATS server without Tether's
	// accounts).
	Sessions SessionGate
	// AgentConns tells whether an agent's connection is still open: a second agent
	// process with an instance's key is refused while the registered one is connected.
	// Nil: the control plane cannot tell, and goes by the registered process's heartbeats
	// alone.
	AgentConns AgentConns
}

// AgentConns reports on agents' connections.
type AgentConns interface {
	// AgentConnected reports whether the connection the server numbered cid, of the agent
	// of instance, is still open.
	AgentConnected(instance string, cid uint64) bool
}

// SessionGate admits the frames of running sessions: an agent's frames reach the
// transcript stream and the client only between AllowSession and EndSession.
type SessionGate interface {
	AllowSession(target, owner, sid string) error
	EndSession(target, sid string)
}

// Service is the control plane.
type Service struct {
	cfg      Config
	log      *slog.Logger
	nc       *nats.Conn
	js       jetstream.JetStream
	b        *jsdef.Buckets
	dir      *principals.Directory
	now      func() time.Time
	agentNC  *nats.Conn
	dispatch *dispatcher
	sampled  *logsample.Sampler
	refused  refusals
	ledger   *ledger
	capacity capacity
	wg       sync.WaitGroup
	stop     context.CancelFunc
	ctx      context.Context

	mu       sync.Mutex
	lastSeen map[string]time.Time // instance id -> last heartbeat
	lost     map[string]bool      // instances marked ConnectionLost
	runs     map[string]agentRun  // instance id -> the agent process registered for it
	active   map[string]api.Session
	endedCh  map[string]chan struct{} // closed when the active session of that id ends
	started  time.Time
	closed   bool
	// limits ends sessions that outlive their maximum duration, should the agent not.
	limits map[string]*time.Timer

	auditAcks chan jetstream.PubAckFuture
	docCache  docCache
	policy    policyState
	// fwdSeen are the forwarded connections recently reported ended.
	fwdSeen seenSet
}

// New checks cfg and returns a service; Start makes it answer.
func New(cfg Config) (*Service, error) {
	if cfg.NC == nil || cfg.JS == nil || cfg.Buckets == nil || cfg.Directory == nil || cfg.Authorizer == nil || cfg.Emitter == nil {
		return nil, errors.New("control: NC, JS, Buckets, Directory, Authorizer and Emitter are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.AgentLostAfter <= 0 {
		cfg.AgentLostAfter = 3 * cfg.HeartbeatInterval
	}
	if cfg.ResumeWindow <= 0 {
		cfg.ResumeWindow = 3 * time.Minute
	}
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Revoke == nil {
		cfg.Revoke = func(string) {}
	}
	if cfg.AgentNC == nil {
		cfg.AgentNC = cfg.NC
	}
	if cfg.Sessions == nil {
		cfg.Sessions = openGate{}
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Minute
	}
	if cfg.CapacityEvery <= 0 {
		cfg.CapacityEvery = 5 * time.Second
	}
	return &Service{
		cfg: cfg, log: cfg.Logger, nc: cfg.NC, agentNC: cfg.AgentNC, js: cfg.JS, b: cfg.Buckets, dir: cfg.Directory,
		now: cfg.Now, sampled: logsample.New(time.Minute), ledger: newLedger(cfg.TranscriptBudget),
		lastSeen: map[string]time.Time{}, lost: map[string]bool{}, runs: map[string]agentRun{}, active: map[string]api.Session{},
		endedCh: map[string]chan struct{}{}, limits: map[string]*time.Timer{},
		auditAcks: make(chan jetstream.PubAckFuture, auditQueue),
	}, nil
}

// Start loads users, agents, activations and active sessions, then starts answering. A
// Start that fails stops what it started before it returns (Close is then a no-op).
func (s *Service) Start(ctx context.Context) (err error) {
	s.ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.started = s.now()
	// What starts is stopped again if a later step fails, in reverse order, and its
	// goroutines have ended when Start returns.
	var undo []func()
	defer func() {
		if err == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		s.stop()
		s.wg.Wait()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	}()
	if err := s.loadDirectory(ctx); err != nil {
		return err
	}
	sessions, err := listJSON[api.Session](ctx, s.b.Sessions)
	if err != nil {
		return err
	}
	for _, se := range sessions {
		if !se.Ended() {
			s.setActive(se)
		}
	}
	// Before startPolicy: a watcher it started is stopped even if it fails itself.
	undo = append(undo, s.stopPolicy)
	if err = s.startPolicy(ctx); err != nil {
		return err
	}
	d, err := newDispatcher(s, s.endpoints())
	if err != nil {
		return err
	}
	undo = append(undo, s.stopRefusals)
	if err = s.startRefusals(); err != nil {
		return err
	}
	undo = append(undo, s.stopLedger)
	if err = s.startLedger(ctx); err != nil {
		return err
	}
	if err = d.start(s.nc, s.agentNC); err != nil {
		return err
	}
	s.dispatch = d
	s.wg.Add(5)
	go func() { defer s.wg.Done(); s.monitor() }()
	go func() { defer s.wg.Done(); s.watchCapacity() }()
	go func() { defer s.wg.Done(); s.retention() }()
	go func() { defer s.wg.Done(); s.watchDirectory() }()
	go func() { defer s.wg.Done(); s.checkAudit() }()
	return nil
}

// Close ends every active session with reason broker_shutdown, publishing their events,
// then stops answering. It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed || s.stop == nil {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ids := make([]string, 0, len(s.active))
	for id := range s.active {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 15*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.endOnAgent(ctx, id, api.ReasonBrokerShutdown, "broker shut down")
		}()
	}
	wg.Wait()
	if s.dispatch != nil {
		s.dispatch.stop()
	}
	s.stopRefusals()
	s.stopLedger()
	s.flushAudit(ctx)
	s.stopPolicy()
	s.stop()
	s.wg.Wait()
	s.mu.Lock()
	for id, t := range s.limits {
		t.Stop()
		delete(s.limits, id)
	}
	s.mu.Unlock()
	return nil
}

// decodeRequest reads a request body with the contract's strict decoder (api.Decode):
// unknown fields, trailing data and bodies over limit are refused, as BadRequest naming
// the verb. An empty body is an empty request.
func decodeRequest(verb string, data []byte, v any, limit int) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := api.Decode(data, v, limit); err != nil {
		return badRequest("%s request: %v", verb, err)
	}
	return nil
}

// decode is decodeRequest within the largest limit of any verb.
func decode(verb string, data []byte, v any) error {
	return decodeRequest(verb, data, v, max(api.MaxPolicyRequest, documentLimit, api.MaxRequest))
}

func badRequest(format string, a ...any) error {
	return &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf(format, a...)}
}
