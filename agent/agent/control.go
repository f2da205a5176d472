package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/agent/shell"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// decodeControl parses and checks a control-plane request. Its errors are meant for the
// control plane's logs and are returned in AgentReply.Error.
func decodeControl(data []byte) (api.AgentControl, error) {
	var c api.AgentControl
	if len(data) > api.MaxRequest {
		return c, fmt.Errorf("request of %d bytes exceeds the %d-byte limit", len(data), api.MaxRequest)
	}
	if err := api.Decode(data, &c, api.MaxRequest); err != nil {
		return c, fmt.Errorf("malformed request: %w", err)
	}
	switch {
	case c.Start == nil && c.Terminate == nil:
		return c, errors.New("request has neither start nor terminate")
	case c.Start != nil && c.Terminate != nil:
		return c, errors.New("request has both start and terminate")
	case c.Start != nil:
		return c, checkStart(c.Start)
	default:
		return c, checkTerminate(c.Terminate)
	}
}

func checkStart(s *api.AgentStart) error {
	if err := subjects.ValidSessionID(s.SessionID); err != nil {
		return fmt.Errorf("session id: %w", err)
	}
	if err := subjects.ValidName(s.Owner); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	subs := []struct{ name, v string }{{"in", s.Subjects.In}, {"out", s.Subjects.Out}, {"ctl", s.Subjects.Ctl}}
	if s.RecordInput { // otherwise rin is not used
		subs = append(subs, struct{ name, v string }{"rin", s.Subjects.Rin})
	}
	for _, sub := range subs {
		if err := checkSubject(sub.v); err != nil {
			return fmt.Errorf("subjects.%s: %w", sub.name, err)
		}
	}
	if r := s.Subjects.Rin; s.RecordInput && (r == s.Subjects.In || r == s.Subjects.Out || r == s.Subjects.Ctl) {
		return fmt.Errorf("subjects.rin %q: must differ from in, out and ctl", r)
	}
	if err := checkForwards(s); err != nil {
		return err
	}
	if len(s.Command) > 0 && s.Command[0] == "" {
		return errors.New("command: program name is empty")
	}
	if s.Window < 0 {
		return fmt.Errorf("window %d: must not be negative", s.Window)
	}
	if s.RunAs != "" && !userName.MatchString(s.RunAs) {
		return fmt.Errorf("run as %q: not a valid user name", s.RunAs)
	}
	for _, d := range []struct {
		name string
		v    api.Duration
	}{{"idle timeout", s.IdleTimeout}, {"max duration", s.MaxDuration}} {
		if d.v < 0 {
			return fmt.Errorf("%s %v: must not be negative", d.name, d.v.Std())
		}
	}
	return nil
}

// userName is a POSIX user name, as useradd accepts it.
var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

// checkSubject accepts a literal subject: no wildcards, no empty tokens, no whitespace.
func checkSubject(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return fmt.Errorf("%q is not a literal subject", s)
		}
	}
	return nil
}

func checkTerminate(t *api.AgentTerminate) error {
	if err := subjects.ValidSessionID(t.SessionID); err != nil {
		return fmt.Errorf("session id: %w", err)
	}
	if len(t.Reason) > frame.MaxReason {
		return fmt.Errorf("reason of %d bytes exceeds %d", len(t.Reason), frame.MaxReason)
	}
	return nil
}

// onControl serves one request on the agent's control subject.
func (a *Agent) onControl(msg *nats.Msg) {
	reply := api.AgentReply{OK: true}
	if err := a.control(msg.Data); err != nil {
		reply = api.AgentReply{Error: err.Error()}
		a.log.Warn("control request refused", logkey.Err, err)
	}
	if msg.Reply == "" {
		return
	}
	b, _ := json.Marshal(reply)
	if err := msg.Respond(b); err != nil {
		a.log.Warn("reply to control request", logkey.Err, err)
	}
}

func (a *Agent) control(data []byte) error {
	c, err := decodeControl(data)
	if err != nil {
		return err
	}
	if c.Terminate != nil {
		a.mu.Lock()
		s := a.sessions[c.Terminate.SessionID]
		a.mu.Unlock()
		if s == nil {
			return errors.New("no such session")
		}
		reason := c.Terminate.Reason
		if reason == "" {
			reason = api.ReasonTerminated
		}
		s.log.Info("terminate requested", logkey.Reason, reason)
		s.end(reason)
		return nil
	}
	return a.startSession(c.Start)
}

// startSession checks that the session's user and program exist, then creates the session, which
// subscribes to its input before this returns (so the reply cannot overtake it) and waits
// for its client to attach.
func (a *Agent) startSession(st *api.AgentStart) error {
	var account *shell.Account
	if st.RunAs != "" {
		var err error
		if account, err = shell.LookupAccount(st.RunAs); err != nil {
			return err
		}
	}
	if len(st.Command) > 0 {
		// A command that does not exist (or may not run) is the session's to report, as a
		// shell reports it: exit status 127 and "NAME: command not found" on stderr.
		if _, err := shell.LookCommand(st.Command); err != nil {
			if _, _, ok := shell.Unrunnable(st.Command, err); !ok {
				return err
			}
		}
	} else if account == nil && len(st.Forwards) == 0 { // an account comes with its shell; forwarding runs none
		if _, err := shell.FindShell(); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return errors.New("agent is shutting down")
	}
	if _, dup := a.sessions[st.SessionID]; dup {
		return fmt.Errorf("session %s already exists", st.SessionID)
	}
	s, err := a.newSession(st, account)
	if err != nil {
		return err
	}
	a.sessions[s.id] = s
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.remove(s)
		s.run()
	}()
	s.log.Info("session started", logkey.Command, st.Command, logkey.RunAs, st.RunAs)
	return nil
}
