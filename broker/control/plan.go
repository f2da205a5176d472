package control

import (
	"context"
	"strings"
	"time"

	"github.com/tetherhq/tether/broker/document"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
)

// plan is what a StartSession will run, worked out from the request, its document and the
// preferences, before policy is asked.
type plan struct {
	doc       loadedDocument
	prefs     api.Preferences
	argv      []string // nil: the login shell
	tty       bool
	params    map[string][]string
	elevated  bool // the document runs as the agent's own user, whatever run-as says
	profile   string
	retention time.Duration
	// forwards are a port forwarding session's destinations, canonical; nil for others.
	forwards []api.Forward
}

// port reports whether the plan is of a port forwarding session.
func (p plan) port() bool { return p.doc.desc.SessionType == api.SessionTypePort }

// commandDocuments run the argv the client gives after "--", or the words of their
// "command" parameter. Their command is whatever the user asks: who may use them is the
// policy's call.
var commandDocuments = map[string]bool{api.DocInteractiveCommand: true, api.DocNonInteractiveCommand: true}

// planStart resolves the request's document into what the agent must run.
func (s *Service) planStart(ctx context.Context, r *api.StartSessionRequest) (plan, error) {
	var p plan
	fromForwards := len(r.Forwards) > 0
	if fromForwards {
		// `tether forward`: the destinations are the request's, the document the
		// built-in one, recorded as such.
		if r.Document != "" {
			return p, badRequest("StartSession: name either a document (document_name %s) or forwards, not both: a Port document names its own destination", r.Document)
		}
		if len(r.Command) > 0 || len(r.Parameters) > 0 {
			return p, badRequest("StartSession: a port forwarding session with forwards takes no command or parameters")
		}
		r.Document = api.DocPortForwarding
	}
	if r.Document == "" {
		switch {
		case len(r.Command) == 0:
			r.Document = api.DocPreferences
		case r.Interactive:
			r.Document = api.DocInteractiveCommand
		default:
			r.Document = api.DocNonInteractiveCommand
		}
	}
	ld, err := s.loadDocument(ctx, r.Document, 0)
	if err != nil {
		return p, err
	}
	p.doc = ld
	typ := ld.desc.SessionType
	switch typ {
	case api.SessionTypePort:
		if len(r.Command) > 0 {
			return p, badRequest("StartSession: %s is a Port document: it runs no command; pass --parameters instead", r.Document)
		}
		if fromForwards {
			if p.forwards, err = checkForwards(r.Forwards); err != nil {
				return p, err
			}
		} else {
			inv, err := ld.doc.Resolve(r.Parameters)
			if err != nil {
				return p, badRequest("StartSession: document %s: %v", r.Document, err)
			}
			f, err := forwardFromSpec(r.Document, inv.Port)
			if err != nil {
				return p, badRequest("StartSession: %v", err)
			}
			p.forwards, p.params = []api.Forward{f}, inv.Parameters
		}
		// Port sessions take their preferences (idle timeout, maximum duration,
		// retention) from the preferences document, as command sessions do.
		if _, prefs, err := s.preferences(ctx); err == nil {
			p.prefs = prefs
		} else {
			return p, err
		}
	case api.SessionTypeStandardStream:
		if len(r.Command) > 0 || len(r.Parameters) > 0 {
			return p, badRequest("StartSession: %s is a Standard_Stream document: it opens a shell and takes no command or parameters", r.Document)
		}
		if !r.Interactive {
			return p, badRequest("StartSession: %s opens a shell, which needs an interactive session", r.Document)
		}
		p.prefs = ld.doc.Preferences()
		p.tty = true
		p.profile = p.prefs.ShellProfileLinux
	default:
		inv, err := s.resolveCommand(ld, r)
		if err != nil {
			return p, err
		}
		p.argv, p.tty, p.params, p.elevated = inv.Argv, inv.TTY, inv.Parameters, inv.RunAsElevated
		// Command sessions take their preferences from the preferences document, as
		// SSM's do.
		if _, prefs, err := s.preferences(ctx); err == nil {
			p.prefs = prefs
		} else {
			return p, err
		}
	}
	if len(p.argv) > 0 && p.tty != r.Interactive {
		if p.tty {
			return p, badRequest("StartSession: %s is an %s document: it needs an interactive session with a terminal", r.Document, typ)
		}
		return p, badRequest("StartSession: %s is a %s document: start it without a terminal", r.Document, typ)
	}
	if p.prefs.TranscriptRetentionDays > 0 {
		p.retention = time.Duration(p.prefs.TranscriptRetentionDays) * 24 * time.Hour
	}
	return p, nil
}

// resolveCommand works out the argv of an InteractiveCommands or NonInteractiveCommands
// session.
func (s *Service) resolveCommand(ld loadedDocument, r *api.StartSessionRequest) (document.Invocation, error) {
	name := ld.desc.Name
	if commandDocuments[name] && len(r.Command) > 0 {
		if len(r.Parameters) > 0 {
			return document.Invocation{}, badRequest("StartSession: give the command either after -- or as the command parameter, not both")
		}
		return document.Invocation{
			SessionType: ld.desc.SessionType, TTY: ld.desc.SessionType == api.SessionTypeInteractive,
			Argv: r.Command, Parameters: map[string][]string{"command": {strings.Join(r.Command, " ")}},
		}, nil
	}
	if len(r.Command) > 0 {
		return document.Invocation{}, badRequest("StartSession: document %s defines its own commands; pass --parameters instead of a command", name)
	}
	inv, err := ld.doc.Resolve(r.Parameters)
	if err != nil {
		return inv, badRequest("StartSession: document %s: %v", name, err)
	}
	if commandDocuments[name] {
		// The value is split into words, as a shell would without expanding or running
		// anything in it, and the words are the argv: the value is never given to a shell.
		words, err := document.SplitWords(inv.Parameters["command"][0])
		if err != nil {
			return inv, badRequest("StartSession: parameter command: %v", err)
		}
		if len(words) == 0 {
			return inv, badRequest("StartSession: parameter command is empty")
		}
		inv.Argv = words
	}
	return inv, nil
}

// limits are a session's limits: its preferences, tightened by the policy's obligations.
type limits struct {
	idle, max time.Duration
	runAs     string
}

func (s *Service) sessionLimits(p plan, c caller, ob policies.Obligations) limits {
	var l limits
	if p.prefs.IdleSessionTimeout > 0 {
		l.idle = time.Duration(p.prefs.IdleSessionTimeout) * time.Minute
	}
	if p.prefs.MaxSessionDuration > 0 {
		l.max = time.Duration(p.prefs.MaxSessionDuration) * time.Minute
	}
	l.idle = tighter(l.idle, ob.IdleTimeout)
	l.max = tighter(l.max, ob.MaxDuration)
	if p.prefs.RunAsEnabled && !p.elevated {
		// As SSM's SSMSessionRunAs principal tag: a user's own run-as account wins over
		// the default.
		l.runAs = p.prefs.RunAsDefaultUser
		if u := c.principal.Attributes[RunAsAttribute]; u != "" {
			l.runAs = u
		}
	}
	if ob.RunAs != "" {
		// The policy names the account: it may only narrow what the session runs as.
		l.runAs = ob.RunAs
	}
	return l
}

// RunAsAttribute is the user attribute that names a user's own run-as account, like
// SSM's SSMSessionRunAs tag.
const RunAsAttribute = "run_as"

// tighter is the smaller of two limits, where zero means no limit.
func tighter(a, b time.Duration) time.Duration {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// startDocInput is the document as the policy sees it for a StartSession.
func startDocInput(p plan) *policies.Document {
	d := docInput(p.doc.desc)
	d.Parameters = p.params
	d.RunAsElevated = p.elevated
	return d
}

// recordingAvailable checks, for a policy that requires recording, that the transcript
// stream is there to take the session's frames. (Every session is recorded; this refuses
// one whose record could not be kept.)
func (s *Service) recordingAvailable(ctx context.Context) error {
	info, err := s.js.Stream(ctx, jsdef.StreamTranscripts)
	if err == nil {
		st, err2 := info.Info(ctx)
		if err2 == nil && (st.Config.MaxBytes <= 0 || st.State.Bytes < uint64(st.Config.MaxBytes)) {
			return nil
		}
		err = err2
	}
	s.log.Error("recording required but the transcript stream cannot take it", logkey.Err, err)
	return &api.Error{Code: api.CodeUnavailable, Message: "the policy requires this session to be recorded, and the transcript stream is unavailable or full; try again later"}
}
