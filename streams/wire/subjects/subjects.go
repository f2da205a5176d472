package subjects

import (
	"fmt"
	"regexp"
	"strings"
)

// The subject layout. Every token that names a principal is validated by ValidName, so a
// name can never contain a wildcard or a dot and escape its place in the layout.
//
//	tether.api.<user>.<Verb>            user → control plane requests (identity = <user>)
//	tether.agentapi.<agent>.<Verb>      agent → control plane (Register, Heartbeat, SessionEnded)
//	tether.enroll.<activation>.<nkey>   an enrolling agent → control plane, once
//	tether.agent.<agent>.ctl            control plane → agent requests (start/terminate session)
//	tether.s.<target>.<owner>.<sid>.in  client → agent frames (stdin, resize, signal, window)
//	tether.s.<target>.<owner>.<sid>.out agent → client frames, captured by the transcript stream
//	tether.s.<target>.<owner>.<sid>.ctl agent → client frames the stream must not capture (window)
//	tether.s.<target>.<owner>.<sid>.rin agent → stream: the client's stdin, recorded when the
//	                                    session's preferences ask for it (recordInput); no
//	                                    user may publish or subscribe to it
//	tether.events.session.<type>        CloudEvents, captured by the events stream
//	tether.events.transcripts.<type>    CloudEvents about the transcript stream (capacity)
//	_INBOX.u.<user>.>, _INBOX.a.<agent>.>, _INBOX.e.<nkey>.>  reply inboxes
const (
	Root          = "tether"
	APIAll        = "tether.api.*.*"
	AgentAPIAll   = "tether.agentapi.*.*"
	EnrollAll     = "tether.enroll.*.*"
	Transcripts   = "tether.s.*.*.*.out"
	RecordedInput = "tether.s.*.*.*.rin" // captured by the transcript stream too
	EventsAll     = "tether.events.>"
	SessionEvents = "tether.events.session.>"
	// AuditAll is captured by the audit stream: one message per policy decision.
	AuditAll = "tether.audit.>"
	// ControlPlaneInbox is the inbox prefix of the control plane's own connections.
	ControlPlaneInbox = "_INBOX.cp"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidName reports whether s may be used as a user, agent, activation or session token.
func ValidName(s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("invalid name %q: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", s)
	}
	return nil
}

var sessionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidSessionID reports whether s may be a session id: "<owner>-<random>", so up to 128
// characters of the same alphabet as names.
func ValidSessionID(s string) error {
	if !sessionRE.MatchString(s) {
		return fmt.Errorf("invalid session id %.140q", s)
	}
	return nil
}

// API is the subject a user publishes a control-plane request for verb on.
func API(user, verb string) string { return "tether.api." + user + "." + verb }

// AgentAPI is the subject an agent publishes a control-plane request for verb on.
func AgentAPI(agent, verb string) string { return "tether.agentapi." + agent + "." + verb }

// Enroll is the subject an agent holding an activation publishes its enrollment on.
func Enroll(activation, nkey string) string { return "tether.enroll." + activation + "." + nkey }

// AgentControl is the subject an agent serves control-plane requests on.
func AgentControl(agent string) string { return "tether.agent." + agent + ".ctl" }

// Session names the data subjects of one session.
type Session struct {
	In, Out, Ctl string
	Rin          string // recorded input, published by the agent only
}

// ForSession returns the data subjects of session sid owned by owner on target.
func ForSession(target, owner, sid string) Session {
	p := "tether.s." + target + "." + owner + "." + sid + "."
	return Session{In: p + "in", Out: p + "out", Ctl: p + "ctl", Rin: p + "rin"}
}

// SessionEvent is the subject of a session lifecycle event of the given type
// (started, connected, terminated, denied, failed).
func SessionEvent(typ string) string { return "tether.events.session." + typ }

// TranscriptsEvent is the subject of an event about the transcript stream of the given
// type (capacity).
func TranscriptsEvent(typ string) string { return "tether.events.transcripts." + typ }

// Audit is the subject a policy decision on action is recorded on.
func Audit(action string) string { return "tether.audit.decision." + action }

// UserInbox, AgentInbox and EnrollInbox are the inbox prefixes each principal must use
// (nats.CustomInboxPrefix); the server lets it subscribe to nothing else for replies.
func UserInbox(user string) string   { return "_INBOX.u." + user }
func AgentInbox(agent string) string { return "_INBOX.a." + agent }
func EnrollInbox(nkey string) string { return "_INBOX.e." + nkey }

// ShipperInbox is the inbox prefix of an out-of-process shipper.
func ShipperInbox(name string) string { return "_INBOX.ship." + name }

// Parse splits a subject into its tokens, and APIParts reads the caller and verb of an API
// subject ("tether.api.<user>.<Verb>" or "tether.agentapi.<agent>.<Verb>").
func APIParts(subject string) (caller, verb string, ok bool) {
	t := strings.Split(subject, ".")
	if len(t) != 4 || t[0] != Root || (t[1] != "api" && t[1] != "agentapi") {
		return "", "", false
	}
	return t[2], t[3], true
}

// EnrollParts reads the activation id and agent public key of an enrollment subject.
func EnrollParts(subject string) (activation, nkey string, ok bool) {
	t := strings.Split(subject, ".")
	if len(t) != 4 || t[0] != Root || t[1] != "enroll" {
		return "", "", false
	}
	return t[2], t[3], true
}
