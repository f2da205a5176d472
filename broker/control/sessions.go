package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/document"
	"github.com/tetherhq/tether/broker/session"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/transcript"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// sessionEndpoints are the session verbs. Each is decided by policy on the session it
// names (and the instance it runs on); StartSession on the target and the document.
func (s *Service) sessionEndpoints() []endpoint {
	return []endpoint{
		policyVerb(s, api.VerbStartSession, api.VerbStartSession, api.MaxRequest, s.prepareStart, s.startSession, s.startDenied),
		policyVerb(s, api.VerbTerminateSession, api.VerbTerminateSession, api.MaxRequest,
			prepareSession(s, func(r *api.TerminateSessionRequest) string { return r.SessionID }), s.terminateSession),
		policyVerb(s, api.VerbResumeSession, api.VerbResumeSession, api.MaxRequest,
			prepareSession(s, func(r *api.ResumeSessionRequest) string { return r.SessionID }), s.resumeSession),
		policyVerb(s, api.VerbGetSession, api.VerbGetSession, api.MaxRequest,
			prepareSession(s, func(r *api.GetSessionRequest) string { return r.SessionID }), s.getSession),
		policyVerb(s, api.VerbReadTranscript, api.VerbReadTranscript, api.MaxRequest,
			prepareSession(s, func(r *api.ReadTranscriptRequest) string { return r.SessionID }), s.readTranscript),
		// Asked once without a session, then once per session listed (see permitted).
		policyVerb(s, api.VerbDescribeSessions, api.VerbDescribeSessions, api.MaxRequest, checkDescribeSessions, s.describeSessions),
	}
}

// maxTranscriptPage bounds the frame bytes of one ReadTranscript answer, so that its JSON
// (base64) stays well under the server's 2 MiB message limit.
const maxTranscriptPage = 1 << 20

const (
	maxArgs     = 256
	maxArgBytes = 16 << 10
	maxDim      = 4096
	maxParams   = 64
)

var termRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$`)

func validateStart(r *api.StartSessionRequest) error {
	if r.Target == "" {
		return badRequest("StartSession: target is required")
	}
	if err := subjects.ValidName(r.Target); err != nil {
		return badRequest("StartSession: target: %v", err)
	}
	if r.Document != "" {
		if err := document.ValidName(r.Document); err != nil {
			return badRequest("StartSession: document_name: %v", err)
		}
	}
	if len(r.Parameters) > maxParams {
		return badRequest("StartSession: %d parameters; the limit is %d", len(r.Parameters), maxParams)
	}
	if len(r.Command) > maxArgs {
		return badRequest("StartSession: command has %d arguments; the limit is %d", len(r.Command), maxArgs)
	}
	total := 0
	for i, a := range r.Command {
		total += len(a)
		if i == 0 && a == "" {
			return badRequest("StartSession: command[0] is empty")
		}
	}
	if total > maxArgBytes {
		return badRequest("StartSession: command is %d bytes; the limit is %d", total, maxArgBytes)
	}
	if len(r.Forwards) > api.MaxForwards {
		return badRequest("StartSession: %d forwards; the limit is %d", len(r.Forwards), api.MaxForwards)
	}
	if !r.Interactive && len(r.Command) == 0 && r.Document == "" && len(r.Forwards) == 0 {
		return badRequest("StartSession: a non-interactive session needs a command or a document")
	}
	if r.Cols > maxDim || r.Rows > maxDim {
		return badRequest("StartSession: terminal size %dx%d is too large", r.Cols, r.Rows)
	}
	if r.Term != "" && !termRE.MatchString(r.Term) {
		return badRequest("StartSession: term %.64q is not a terminal type", r.Term)
	}
	if len(r.Reason) > 256 {
		return badRequest("StartSession: reason is longer than 256 bytes")
	}
	return nil
}

func newSessionID(owner string) (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return owner + "-" + hex.EncodeToString(b), nil
}

// startState is what StartSession's decision was made on.
type startState struct {
	inst storedInstance
	plan plan
}

// prepareStart checks a StartSession request and plans it: the target, the document and
// its parameters, which are the decision's input.
func (s *Service) prepareStart(ctx context.Context, c caller, r *api.StartSessionRequest) (policies.Input, startState, error) {
	var st startState
	if err := validateStart(r); err != nil {
		return policies.Input{}, st, err
	}
	inst, _, err := getJSON[storedInstance](ctx, s.b.Instances, r.Target)
	if errors.Is(err, errNotFound) {
		return policies.Input{}, st, notFound("target %.64q is not a registered instance (see tether describe-instance-information)", r.Target)
	}
	if err != nil {
		return policies.Input{}, st, err
	}
	p, err := s.planStart(ctx, r)
	if err != nil {
		return policies.Input{}, st, err
	}
	st = startState{inst: inst, plan: p}
	return policies.Input{Target: targetInput(inst), Document: startDocInput(p), Forwards: forwardsInput(p.forwards)}, st, nil
}

// newSession is the record of a session about to start.
func (s *Service) newSession(c caller, r *api.StartSessionRequest, p plan) api.Session {
	se := api.Session{
		Owner: c.name, Target: r.Target, Document: r.Document, DocumentVersion: p.doc.desc.Version,
		SessionType: p.doc.desc.SessionType, Command: p.argv,
		Interactive: p.tty, State: api.StateConnecting, StartedAt: s.now().UTC(),
		Cols: r.Cols, Rows: r.Rows,
	}
	if p.port() {
		se.Cols, se.Rows, se.Forwards = 0, 0, p.forwards
	}
	return se
}

// term is the terminal type the agent is told: none for a port forwarding session.
func term(p plan, r *api.StartSessionRequest) string {
	if p.port() {
		return ""
	}
	return r.Term
}

// startDenied publishes the denied event of a StartSession the policy refused.
func (s *Service) startDenied(ctx context.Context, c caller, r *api.StartSessionRequest, st startState, ae *api.Error) {
	if ae.Code != api.CodeAccessDenied {
		return
	}
	se := s.newSession(c, r, st.plan)
	se.State = "Denied"
	if e := s.cfg.Emitter.Emit(ctx, events.Denied, events.Data{Session: events.FromRecord(se), Actor: c.name, Reasons: ae.Reasons}); e != nil {
		s.log.Error("publish denied event", logkey.User, c.name, logkey.Err, e)
	}
}

func (s *Service) startSession(ctx context.Context, c caller, r *api.StartSessionRequest, st startState, d *decision) (any, error) {
	p := st.plan
	inst := st.inst
	se := s.newSession(c, r, p)
	if d.Limits.RecordingRequired {
		if err := s.recordingAvailable(ctx); err != nil {
			return nil, err
		}
	}
	lim := s.sessionLimits(p, c, d.Limits)
	recordInput := p.prefs.RecordInput
	if p.port() {
		// No process runs, so nothing runs as anyone: the agent dials as itself. The
		// forwarded bytes travel on the session's input and control subjects, which the
		// transcript stream does not capture, and input recording does not apply.
		lim.runAs, recordInput = "", false
	}
	se.RunAs, se.IdleTimeout, se.MaxDuration = lim.runAs, api.Duration(lim.idle), api.Duration(lim.max)
	se.Recording = &api.SessionRecording{
		KeyPrefix: p.prefs.S3KeyPrefix, EncryptionRequired: p.prefs.S3EncryptionEnabled,
		Bucket: p.prefs.S3BucketName, RecordInput: recordInput, Streaming: p.prefs.StreamingEnabled,
		Retention: api.Duration(p.retention),
	}
	if err := s.errOverBudget(r.Target); err != nil {
		return nil, err
	}
	if err := s.errTranscriptsFull(ctx, c.name, r.Target); err != nil {
		return nil, err
	}
	if !s.online(inst.ID) {
		return nil, &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf("target %s is not connected (ping status %s)", r.Target, api.PingConnectionLost)}
	}
	var err error
	if se.ID, err = newSessionID(c.name); err != nil {
		return nil, err
	}
	sub := subjects.ForSession(r.Target, c.name, se.ID)
	subs := api.Subjects{In: sub.In, Out: sub.Out, Ctl: sub.Ctl}
	if recordInput {
		subs.Rin = sub.Rin
	}
	if err := createJSON(ctx, s.b.Sessions, se.ID, se); err != nil {
		return nil, err
	}
	s.setActive(se)
	log := s.log.With(logkey.SessionID, se.ID, logkey.Target, r.Target, logkey.User, c.name)

	reply, err := s.askAgentPatiently(ctx, r.Target, api.AgentControl{Start: &api.AgentStart{
		SessionID: se.ID, Owner: c.name, Subjects: subs, Interactive: p.tty,
		Command: p.argv, Cols: se.Cols, Rows: se.Rows, Term: term(p, r), Window: frame.DefaultWindow,
		RunAs: lim.runAs, IdleTimeout: api.Duration(lim.idle), MaxDuration: api.Duration(lim.max),
		ShellProfile: p.profile, RecordInput: recordInput, ResumeWindow: api.Duration(s.cfg.ResumeWindow),
		Forwards: p.forwards,
	}})
	if err == nil && !reply.OK {
		err = errors.New(reply.Error)
	}
	if err != nil {
		log.Warn("agent did not accept session", logkey.Err, err)
		s.finish(ctx, se.ID, sessionEnd(api.ReasonStartFailed, err.Error(), nil, 0, 0, s.now()), "")
		return nil, &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf("target %s did not start the session: %v", r.Target, err)}
	}
	se, err = updateJSON(ctx, s.b.Sessions, se.ID, func(v *api.Session) error {
		n, err := session.Connect(*v, s.now().UTC())
		*v = n
		return err
	})
	if err != nil {
		return nil, err
	}
	s.setActive(se)
	if err := s.cfg.Emitter.Emit(ctx, events.Started, events.Data{Session: events.FromRecord(se), Actor: c.name}); err != nil {
		log.Error("publish started event", logkey.Err, err)
	}
	log.Info("session started")
	return api.StartSessionResponse{Session: se, Subjects: subs, Window: frame.DefaultWindow, ResumeWindow: api.Duration(s.cfg.ResumeWindow)}, nil
}

func (s *Service) terminateSession(ctx context.Context, c caller, _ *api.TerminateSessionRequest, se api.Session, _ *decision) (any, error) {
	if se.Ended() {
		return api.TerminateSessionResponse{SessionID: se.ID}, nil
	}
	se, err := updateJSON(ctx, s.b.Sessions, se.ID, func(v *api.Session) error {
		if v.State == api.StateTerminating || v.Ended() {
			return nil
		}
		n, err := session.Terminating(*v, c.name)
		*v = n
		return err
	})
	if err != nil {
		return nil, err
	}
	s.setActive(se)
	reply, err := s.askAgent(ctx, se.Target, api.AgentControl{Terminate: &api.AgentTerminate{SessionID: se.ID, Reason: api.ReasonTerminated}})
	if err != nil || !reply.OK {
		detail := "agent did not have the session"
		if err != nil {
			detail = err.Error()
		}
		if _, err := s.finish(ctx, se.ID, sessionEnd(api.ReasonTerminated, detail, nil, 0, 0, s.now()), c.name); err != nil {
			return nil, err
		}
	}
	return api.TerminateSessionResponse{SessionID: se.ID}, nil
}

// prepareSession is the prepare of verbs about one session: it loads the session named
// by id(r), and the decision input is the session and the instance it runs on.
func prepareSession[Req any](s *Service, id func(*Req) string) prepareFunc[Req, api.Session] {
	return func(ctx context.Context, _ caller, r *Req) (policies.Input, api.Session, error) {
		se, err := s.loadSession(ctx, id(r))
		if err != nil {
			return policies.Input{}, se, err
		}
		in := policies.Input{Session: sessionInput(se)}
		// The session's instance, for rules about where it runs; it may be gone since.
		if inst, _, err := getJSON[storedInstance](ctx, s.b.Instances, se.Target); err == nil {
			in.Target = targetInput(inst)
		}
		return in, se, nil
	}
}

func (s *Service) loadSession(ctx context.Context, id string) (api.Session, error) {
	if id == "" {
		return api.Session{}, badRequest("session_id is required")
	}
	if err := subjects.ValidSessionID(id); err != nil {
		return api.Session{}, badRequest("session_id: %v", err)
	}
	se, _, err := getJSON[api.Session](ctx, s.b.Sessions, id)
	if errors.Is(err, errNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return se, notFound("no session %.64q", id)
	}
	return se, err
}

func (s *Service) getSession(_ context.Context, _ caller, _ *api.GetSessionRequest, se api.Session, _ *decision) (any, error) {
	return api.GetSessionResponse{Session: se}, nil
}

func checkDescribeSessions(_ context.Context, _ caller, r *api.DescribeSessionsRequest) (policies.Input, pageRequest, error) {
	if r.State != "Active" && r.State != "History" {
		return policies.Input{}, pageRequest{}, badRequest("DescribeSessions: state must be Active or History, not %.32q", r.State)
	}
	p, err := checkPage(api.VerbDescribeSessions, r.MaxResults, r.NextToken, true)
	return policies.Input{}, p, err
}

func (s *Service) describeSessions(ctx context.Context, c caller, r *api.DescribeSessionsRequest, pr pageRequest, d *decision) (any, error) {
	all, err := listJSON[api.Session](ctx, s.b.Sessions)
	if err != nil {
		return nil, err
	}
	// Their instances, for rules about where a session runs.
	instances, err := listJSON[storedInstance](ctx, s.b.Instances)
	if err != nil {
		return nil, err
	}
	where := make(map[string]storedInstance, len(instances))
	for _, in := range instances {
		where[in.ID] = in
	}
	var asked []api.Session
	for _, se := range all {
		if se.Ended() == (r.State == "History") &&
			(r.Owner == "" || se.Owner == r.Owner) && (r.Target == "" || se.Target == r.Target) {
			asked = append(asked, se)
		}
	}
	// Which sessions the caller sees is the policy's call, session by session.
	out := permitted(ctx, s, c, d, api.VerbDescribeSessions, asked, func(se api.Session) policies.Input {
		in := policies.Input{Session: sessionInput(se)}
		if inst, ok := where[se.Target]; ok {
			in.Target = targetInput(inst)
		}
		return in
	})
	out, next := page(api.VerbDescribeSessions, out, func(se api.Session) pageKey { return newestFirst(se.StartedAt, se.ID) }, pr)
	return api.DescribeSessionsResponse{Sessions: out, NextToken: next}, nil
}

func (s *Service) readTranscript(ctx context.Context, c caller, r *api.ReadTranscriptRequest, se api.Session, _ *decision) (any, error) {
	resp, err := transcript.Answer(ctx, s.js, jsdef.StreamTranscripts, subjects.ForSession(se.Target, se.Owner, se.ID).Out, *r,
		transcript.End{Ended: se.Ended(), OutFrames: se.OutFrames}, maxTranscriptPage)
	if err != nil {
		return nil, fmt.Errorf("read transcript %s: %w", se.ID, err)
	}
	return resp, nil
}

func (s *Service) resumeSession(ctx context.Context, _ caller, _ *api.ResumeSessionRequest, se api.Session, _ *decision) (any, error) {
	if se.Ended() {
		return nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("session %s has ended (%s, %s); start a new one", se.ID, se.State, se.Reason)}
	}
	if se.State != api.StateConnected {
		return nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("session %s is %s, not Connected", se.ID, se.State)}
	}
	sub := subjects.ForSession(se.Target, se.Owner, se.ID)
	// The resumed client numbers its input from now, in nanoseconds: above every frame
	// an earlier client of the session can have sent, since frames are numbered from 1.
	return api.StartSessionResponse{Session: se, Subjects: api.Subjects{In: sub.In, Out: sub.Out, Ctl: sub.Ctl},
		Window: frame.DefaultWindow, InputSeq: uint64(s.now().UnixNano()),
		ResumeWindow: api.Duration(s.cfg.ResumeWindow), OutputSeq: s.lastOutput(ctx, sub.Out)}, nil
}

// lastOutput is the number of the last output frame the transcript stream holds on
// subject, 0 when it holds none or cannot say (the client then shows the whole record).
func (s *Service) lastOutput(ctx context.Context, subject string) uint64 {
	st, err := s.js.Stream(ctx, jsdef.StreamTranscripts)
	if err != nil {
		return 0
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return 0
	}
	f, err := frame.Decode(m.Data)
	if err != nil || f.Type == frame.End {
		return 0
	}
	return f.Seq
}

func sessionInput(se api.Session) *policies.Session {
	return &policies.Session{ID: se.ID, Owner: se.Owner, Target: se.Target, Document: se.Document}
}
