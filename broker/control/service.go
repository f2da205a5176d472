package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/subjects"
)

// Authorizer decides whether an action is allowed.
type Authorizer interface {
	Decide(ctx context.Context, in policies.Input) (policies.Decision, error)
}

// Emitter publishes session lifecycle events.
type Emitter interface {
	Emit(ctx context.Context, typ string, d events.Data) error
}

var (
	_ Authorizer = (*policies.Evaluator)(nil)
	_ Emitter    = (*events.Emitter)(nil)
)

// Config wires the service to its dependencies.
type Config struct {
	NC         *nats.Conn // a control-plane connection: full permissions
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
	// AgentTimeout bounds how long StartSession and TerminateSession wait for the agent.
	AgentTimeout time.Duration
	// MaxInFlight bounds concurrently handled requests.
	MaxInFlight int
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
}

// Service is the control plane.
type Service struct {
	cfg  Config
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	b    *jsdef.Buckets
	dir  *principals.Directory
	sem  chan struct{}
	now  func() time.Time
	svc  micro.Service
	wg   sync.WaitGroup
	stop context.CancelFunc
	ctx  context.Context

	mu       sync.Mutex
	lastSeen map[string]time.Time // instance id -> last heartbeat
	lost     map[string]bool      // instances marked ConnectionLost
	active   map[string]api.Session
	endedCh  map[string]chan struct{} // closed when the active session of that id ends
	started  time.Time
	closed   bool
	// limits ends sessions that outlive their maximum duration, should the agent not.
	limits map[string]*time.Timer

	auditAcks chan jetstream.PubAckFuture
	docCache  docCache
	policy    policyState
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
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = 10 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Revoke == nil {
		cfg.Revoke = func(string) {}
	}
	return &Service{
		cfg: cfg, log: cfg.Logger, nc: cfg.NC, js: cfg.JS, b: cfg.Buckets, dir: cfg.Directory,
		sem: make(chan struct{}, cfg.MaxInFlight), now: cfg.Now,
		lastSeen: map[string]time.Time{}, lost: map[string]bool{}, active: map[string]api.Session{},
		endedCh: map[string]chan struct{}{}, limits: map[string]*time.Timer{},
		auditAcks: make(chan jetstream.PubAckFuture, auditQueue),
	}, nil
}

// Start loads users, agents, activations and active sessions, then starts answering.
func (s *Service) Start(ctx context.Context) error {
	s.ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.started = s.now()
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
	if err := s.startPolicy(ctx); err != nil {
		return err
	}
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        "tether-control",
		Version:     "0.1.0",
		Description: "Tether control plane",
		QueueGroup:  "tether-control",
	})
	if err != nil {
		return fmt.Errorf("start control service: %w", err)
	}
	s.svc = svc
	if err := s.addEndpoints(); err != nil {
		_ = svc.Stop()
		return err
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.monitor() }()
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
	err := s.svc.Stop()
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
	return err
}

// endOnAgent asks the agent to end a session and records the end ourselves, so the
// session is over even if the agent never reports.
func (s *Service) endOnAgent(ctx context.Context, id, reason, detail string) {
	se, ok := s.activeSession(id)
	if !ok {
		return
	}
	reply, err := s.askAgent(ctx, se.Target, api.AgentControl{Terminate: &api.AgentTerminate{SessionID: id, Reason: reason}})
	if err == nil && reply.OK {
		// Give the agent a moment to drain the process's output and report, so the
		// client sees the Exit frame live and the record has the exit code.
		select {
		case <-s.whenEnded(id):
			return
		case <-time.After(agentReportWait):
		case <-ctx.Done():
		}
	}
	if _, err := s.finish(ctx, id, sessionEnd(reason, detail, nil, 0, 0, s.now()), ""); err != nil {
		s.log.Error("end session", keySession, id, "err", err)
	}
}

// agentReportWait bounds how long ending a session waits for the agent's own report.
const agentReportWait = 3 * time.Second

// whenEnded returns a channel closed once session id is no longer active.
func (s *Service) whenEnded(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if _, active := s.active[id]; !active {
		close(ch)
		return ch
	}
	if old, ok := s.endedCh[id]; ok {
		return old
	}
	s.endedCh[id] = ch
	return ch
}

func (s *Service) activeSession(id string) (api.Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.active[id]
	return se, ok
}

// handler is one API verb's implementation. c is the server-authenticated caller.
type handler func(ctx context.Context, c caller, data []byte) (any, error)

type caller struct {
	name      string
	kind      string
	principal api.Principal
}

func (s *Service) addEndpoints() error {
	user := map[string]handler{
		api.VerbStartSession:       s.startSession,
		api.VerbTerminateSession:   s.terminateSession,
		api.VerbDescribeSessions:   s.describeSessions,
		api.VerbGetSession:         s.getSession,
		api.VerbDescribeInstances:  s.describeInstances,
		api.VerbReadTranscript:     s.readTranscript,
		api.VerbWhoAmI:             s.whoAmI,
		api.VerbCreateActivation:   s.createActivation,
		api.VerbListActivations:    s.listActivations,
		api.VerbDeleteActivation:   s.deleteActivation,
		api.VerbAddUser:            s.addUser,
		api.VerbListUsers:          s.listUsers,
		api.VerbRemoveUser:         s.removeUser,
		api.VerbDeregisterInstance: s.deregisterInstance,
		api.VerbCreateDocument:     s.createDocument,
		api.VerbUpdateDocument:     s.updateDocument,
		api.VerbGetDocument:        s.getDocument,
		api.VerbListDocuments:      s.listDocuments,
		api.VerbDeleteDocument:     s.deleteDocument,
		api.VerbGetPreferences:     s.getPreferences,
		api.VerbUpdatePreferences:  s.updatePreferences,
		api.VerbResumeSession:      s.resumeSession,
		api.VerbPushPolicy:         s.pushPolicy,
		api.VerbPolicyStatus:       s.policyStatus,
		api.VerbEvaluatePolicy:     s.evaluatePolicy,
		api.VerbListRecordings:     s.listRecordings,
		api.VerbGetRecording:       s.getRecording,
		api.VerbShipStatus:         s.shipStatus,
	}
	for verb, h := range user {
		if err := s.svc.AddEndpoint(verb, s.wrap(verb, principals.KindUser, h),
			micro.WithEndpointSubject(subjects.API("*", verb))); err != nil {
			return fmt.Errorf("add endpoint %s: %w", verb, err)
		}
	}
	agent := map[string]handler{
		api.VerbRegister:     s.register,
		api.VerbHeartbeat:    s.heartbeat,
		api.VerbSessionEnded: s.sessionEnded,
	}
	for verb, h := range agent {
		if err := s.svc.AddEndpoint("Agent"+verb, s.wrap(verb, principals.KindAgent, h),
			micro.WithEndpointSubject(subjects.AgentAPI("*", verb))); err != nil {
			return fmt.Errorf("add endpoint %s: %w", verb, err)
		}
	}
	if err := s.svc.AddEndpoint("Enroll", s.wrap("Enroll", principals.KindEnrollment, s.enroll),
		micro.WithEndpointSubject(subjects.EnrollAll)); err != nil {
		return fmt.Errorf("add endpoint Enroll: %w", err)
	}
	return nil
}

// wrap turns a handler into a micro handler: it reads the caller from the subject (which
// the server only let that principal publish on), bounds the body, runs the handler off
// the subscription goroutine, and maps errors to API errors.
func (s *Service) wrap(verb, kind string, h handler) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		start := s.now()
		var c caller
		var ok bool
		switch kind {
		case principals.KindEnrollment:
			var act string
			act, c.name, ok = subjects.EnrollParts(req.Subject())
			c.kind, c.principal = kind, api.Principal{Name: act, Kind: kind}
		default:
			c.name, _, ok = subjects.APIParts(req.Subject())
			c.kind = kind
		}
		if !ok {
			respondErr(req, &api.Error{Code: api.CodeBadRequest, Message: "malformed API subject"})
			return
		}
		limit := api.MaxRequest
		switch verb {
		case api.VerbPushPolicy:
			limit = api.MaxPolicyRequest
		case api.VerbCreateDocument, api.VerbUpdateDocument, api.VerbUpdatePreferences:
			// A document may be up to 64 KiB; its JSON envelope needs room too.
			limit = 2 * api.MaxRequest
		}
		if len(req.Data()) > limit {
			respondErr(req, &api.Error{Code: api.CodeBadRequest,
				Message: fmt.Sprintf("%s request is %d bytes; the limit is %d", verb, len(req.Data()), limit)})
			return
		}
		if kind == principals.KindUser {
			u, found := s.dir.User(c.name)
			if !found {
				respondErr(req, &api.Error{Code: api.CodeAccessDenied, Message: "user " + c.name + " no longer exists"})
				return
			}
			c.principal = api.Principal{Name: u.Name, Kind: kind, Groups: u.Groups, Attributes: u.Attributes}
		} else if kind == principals.KindAgent {
			c.principal = api.Principal{Name: c.name, Kind: kind}
		}
		select {
		case s.sem <- struct{}{}:
		default:
			respondErr(req, &api.Error{Code: api.CodeUnavailable, Message: "control plane is busy; retry"})
			return
		}
		// Answer on the reply subject ourselves: the micro request belongs to the
		// subscription goroutine, which reads it again once this handler returns.
		reply := req.Reply()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.AgentTimeout)
			defer cancel()
			resp, err := h(ctx, c, req.Data())
			log := s.log.With(keyVerb, verb, keyUser, c.name, keyDuration, s.now().Sub(start))
			if err != nil {
				var ae *api.Error
				if !errors.As(err, &ae) {
					log.Error("request failed", "err", err)
					ae = &api.Error{Code: api.CodeInternal, Message: verb + " failed on the broker; see its log"}
				} else {
					log.Debug("request refused", "code", ae.Code, "err", ae.Message)
				}
				if err := s.replyErr(reply, ae); err != nil {
					log.Warn("respond", "err", err)
				}
				return
			}
			log.Debug("request served")
			if err := s.reply(reply, resp); err != nil {
				log.Warn("respond", "err", err)
			}
		}()
	})
}

// reply answers a request with resp as JSON, as micro's RespondJSON would.
func (s *Service) reply(subject string, resp any) error {
	if subject == "" {
		return nil
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return s.replyErr(subject, &api.Error{Code: api.CodeInternal, Message: "encode response: " + err.Error()})
	}
	return s.nc.Publish(subject, b)
}

// replyErr answers a request with an API error, as micro's Error would: the code and
// message in headers, the error as JSON in the body.
func (s *Service) replyErr(subject string, e *api.Error) error {
	if subject == "" {
		return nil
	}
	b, _ := json.Marshal(e)
	return s.nc.PublishMsg(&nats.Msg{Subject: subject, Data: b, Header: nats.Header{
		micro.ErrorHeader:     []string{strings.ReplaceAll(e.Message, "\n", " ")},
		micro.ErrorCodeHeader: []string{e.Code},
	}})
}

func respondErr(req micro.Request, e *api.Error) {
	b, _ := json.Marshal(e)
	_ = req.Error(e.Code, e.Message, b)
}

// decode reads a JSON request strictly: unknown fields and trailing data are errors.
func decode(verb string, data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return badRequest("malformed %s request: %v", verb, err)
	}
	if d.More() {
		return badRequest("malformed %s request: data after the JSON object", verb)
	}
	return nil
}

func badRequest(format string, a ...any) error {
	return &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf(format, a...)}
}
