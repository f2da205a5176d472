package accounts

import (
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Service is the name of the service account: the control plane, JetStream (every stream
// and bucket) and the in-process workers. No principal connects to it.
const Service = "TETHER"

// Kind is a kind of principal; each principal lives in an account of its kind.
type Kind string

// The kinds of principal.
const (
	KindUser       Kind = "user"
	KindAgent      Kind = "agent"
	KindEnrollment Kind = "enrollment"
	KindShipper    Kind = "shipper"
)

// prefixes name a principal's account: "U_alice", "A_web-1", "E_<nkey>", "S_ship1". A
// principal name is a subjects.ValidName, so it can neither contain a dot nor collide
// with Service.
var prefixes = map[Kind]string{KindUser: "U_", KindAgent: "A_", KindEnrollment: "E_", KindShipper: "S_"}

// AccountName is the account a principal of kind k named name lives in.
func AccountName(k Kind, name string) string { return prefixes[k] + name }

// Parse reads a principal account's name back into its kind and principal name.
func Parse(account string) (Kind, string, bool) {
	for k, p := range prefixes {
		if len(account) > len(p) && account[:len(p)] == p {
			name := account[len(p):]
			return k, name, subjects.ValidName(name) == nil
		}
	}
	return "", "", false
}

// Import is a subject of the service account (or of an agent's gate) that a principal's
// account imports.
type Import struct {
	// Stream imports messages the service account publishes; otherwise it is a service
	// import: the principal publishes, the service account receives, and answers come
	// back on a reply subject the server chose (never the caller's own).
	Stream bool
	// Local is the subject in the principal's account.
	Local string
	// Remote is the subject in the service account; "" means the same as Local.
	Remote string
	// Streamed marks a service that answers one request with several messages
	// (JetStream pulls and batched direct gets).
	Streamed bool
	// From is the account that exports it: "" for the service account, or a principal's
	// account for a session's data (SessionData).
	From string
}

// RemoteSubject is Remote, or Local when Remote is empty.
func (i Import) RemoteSubject() string {
	if i.Remote == "" {
		return i.Local
	}
	return i.Remote
}

// Limits bound what one principal may hold at once.
type Limits struct {
	// Conns is how many connections the principal's account may have at once.
	Conns int
	// Subs is how many subscriptions each of its connections may have.
	Subs int
}

// Account is a principal's account: what it imports from the service account, the
// services it exports to it (which the service account imports: requests the control
// plane sends to an agent), and the session data it exports to the other side of its
// sessions (SessionData).
type Account struct {
	Name    string
	Kind    Kind
	Imports []Import
	// Exports are services of this account that the service account imports, under the
	// same subject.
	Exports []string
	// DataExports are the stream exports of a session's data, imported by the account at
	// the session's other end (SessionData): a user's input, an agent's frames for its
	// client. Each importer is approved by name when its first session pairs them.
	DataExports []string
	Limits      Limits
	// Gate, for an agent, is the account its frames pass through on their way to the
	// service account.
	Gate *Gate
	// Activation, for an enrolling agent, is the activation it enrolls with: the broker
	// bounds how many enrollment accounts one activation may have.
	Activation string
}

// Gate is the account between an agent's account and the service account through which
// the agent's frames for the record (output, recorded input) pass. Nobody connects to
// it. It holds a mapping for each session running on the agent (SessionMappings), which
// sends that session's frames on to the service account; the frames of any other session
// go to RefusedAll instead. (The mappings cannot live in the agent's own account: the
// server checks a client's permissions on the subject a mapping makes, so the agent
// would have to be allowed to publish the mapped subjects themselves.)
type Gate struct {
	Name string
	// Ingress are the gate's exports the agent's account imports: the agent publishes on
	// Local, the gate receives on Remote.
	Ingress []Import
	// Imports are the gate's imports from the service account.
	Imports []Import
}

// Permissions are what one connection may publish and subscribe to inside its account.
// Anything not listed is denied. No principal has response permissions: an agent answers
// the control plane on the server-made reply subjects "_R_.…" of its own account, which
// reach only the requester.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// Grant is what a principal's connection is given: its account and its permissions.
// Imports bound what the account can reach at all; permissions bound what a connection
// does with it (an account's imports are fixed once made, permissions are read at each
// connection, so what may change about a principal — being an admin — is a permission).
type Grant struct {
	Account     Account
	Permissions Permissions
}

// Limits of each kind of principal.
var (
	// UserLimits: a user runs a CLI per terminal; each holds an inbox and two
	// subscriptions per session it shows.
	UserLimits = Limits{Conns: 64, Subs: 512}
	// AgentLimits: one agent process holds one connection (two while it reconnects) with
	// a subscription per session.
	AgentLimits = Limits{Conns: 4, Subs: 4096}
	// EnrollmentLimits: an agent enrolls once, briefly, with a key of its own.
	EnrollmentLimits = Limits{Conns: 2, Subs: 8}
	// ShipperLimits: a shipper process holds a connection or two.
	ShipperLimits = Limits{Conns: 8, Subs: 256}
)

// liveOut is where the service account republishes each output frame the transcript
// stream stored: users see output only once it is part of the record.
const liveOut = "tether.live.*.*.*.out"

// LiveOut is the republished output subject of a session: what JetStream republishes the
// stored frame of subjects.Session.Out on.
func LiveOut(target, owner, sid string) string {
	return "tether.live." + target + "." + owner + "." + sid + ".out"
}

// LiveRepublish is the transcript stream's republish rule: stored output frames go to
// LiveOut, in the service account.
const (
	LiveRepublishSource      = subjects.Transcripts
	LiveRepublishDestination = "tether.live.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}.out"
)

// User is the grant of end user name. Admins (by the policy's admin groups) may also read
// the lifecycle events live.
func User(name string, admin bool) Grant {
	acc := Account{
		Name: AccountName(KindUser, name),
		Kind: KindUser,
		Imports: []Import{
			{Local: "tether.api." + name + ".*"},
			{Stream: true, Local: "tether.s.*." + name + ".*.out", Remote: "tether.live.*." + name + ".*.out"},
			{Stream: true, Local: subjects.EventsAll},
		},
		DataExports: []string{"tether.s.*." + name + ".*.in"},
		Limits:      UserLimits,
	}
	p := Permissions{
		Publish: []string{
			"tether.api." + name + ".*",
			"tether.s.*." + name + ".*.in",
		},
		Subscribe: []string{
			subjects.UserInbox(name) + ".>",
			"tether.s.*." + name + ".*.out",
			"tether.s.*." + name + ".*.ctl",
		},
	}
	if admin {
		p.Subscribe = append(p.Subscribe, subjects.EventsAll)
	}
	return Grant{Account: acc, Permissions: p}
}

// frameKinds are the subjects of a session an agent publishes into the record, through its
// gate. Its frames for the client ("ctl") go straight to the owner's account
// (SessionData).
var frameKinds = []string{"out", "rin"}

// GateName is the name of the gate account of the agent of instance id.
func GateName(id string) string { return "G_" + id }

// Agent is the grant of the agent of instance id. Its frames reach the service account
// only for the sessions the control plane started on it: they pass through its gate,
// where SessionMappings send a running session's frames on ("tether.from.…" to
// "tether.ok.…", imported from the service account as the session's own subjects);
// frames it publishes for any other session land on "tether.refused.<id>.…", where the
// control plane counts and refuses them.
func Agent(id string) Grant {
	gate := &Gate{Name: GateName(id)}
	acc := Account{
		Name:        AccountName(KindAgent, id),
		Kind:        KindAgent,
		Imports:     []Import{{Local: "tether.agentapi." + id + ".*"}},
		Exports:     []string{subjects.AgentControl(id)},
		DataExports: []string{"tether.s." + id + ".*.*.ctl"},
		Limits:      AgentLimits,
		Gate:        gate,
	}
	for _, k := range frameKinds {
		tail := "." + id + ".*.*." + k
		gate.Ingress = append(gate.Ingress, Import{Local: "tether.s" + tail, Remote: "tether.from" + tail})
		gate.Imports = append(gate.Imports,
			Import{Local: "tether.ok" + tail, Remote: "tether.s" + tail},
			Import{Local: "tether.from" + tail, Remote: "tether.refused" + tail}, // no mapping: refused
		)
	}
	p := Permissions{
		Publish: []string{
			"tether.agentapi." + id + ".*",
			"tether.s." + id + ".*.*.out",
			"tether.s." + id + ".*.*.ctl",
			"tether.s." + id + ".*.*.rin",
			"_R_.>", // answers to the control plane's requests, in its own account
		},
		Subscribe: []string{
			subjects.AgentControl(id),
			subjects.AgentInbox(id) + ".>",
			"tether.s." + id + ".*.*.in",
		},
	}
	return Grant{Account: acc, Permissions: p}
}

// SessionData are the stream imports that carry the data of owner's sessions on target
// between their two accounts, with no account between: the agent's account imports the
// owner's input ("tether.s.<target>.<owner>.*.in"), and the owner's account imports the
// agent's frames for its client ("….ctl"). They are made when owner's first session on
// target starts and stay (a server cannot take an import back); they reach no further than
// the service account's service imports did before them (any session of owner on target),
// and the agent reads a session's input only while it runs the session.
//
// A stream import delivers a message unchanged: no copy to add the request-info header a
// service import writes on every message, and no server-made reply subject. So a reply
// subject on session data is the sender's, and its receiver answers nothing (the agent
// drops input that carries one); what it published in answer would stay within its own
// account's permissions.
func SessionData(target, owner string) (agent, user Import) {
	tail := "." + target + "." + owner + ".*."
	agent = Import{Stream: true, Local: "tether.s" + tail + "in", From: AccountName(KindUser, owner)}
	user = Import{Stream: true, Local: "tether.s" + tail + "ctl", From: AccountName(KindAgent, target)}
	return agent, user
}

// Mapping rewrites a subject in a gate before it is routed on.
type Mapping struct{ From, To string }

// SessionMappings are the mappings an agent's gate holds while the session sid runs on
// it: its output and recorded input go on to the service account.
func SessionMappings(target, owner, sid string) []Mapping {
	var ms []Mapping
	for _, k := range frameKinds {
		tail := "." + target + "." + owner + "." + sid + "." + k
		ms = append(ms, Mapping{From: "tether.from" + tail, To: "tether.ok" + tail})
	}
	return ms
}

// RefusedAll is where the service account receives the frames agents publish for sessions
// that do not run on them: "tether.refused.<agent>.<owner>.<sid>.<kind>".
const RefusedAll = "tether.refused.>"

// RefusedDescription ends the description of the error (status 403) the control plane
// answers a refused frame with; the agent takes it as final.
const RefusedDescription = "is not a session running on this agent"

// RefusedParts reads the agent and the session subject out of a refused frame's subject.
func RefusedParts(subject string) (agent, original string, ok bool) {
	const p = "tether.refused."
	if len(subject) <= len(p) || subject[:len(p)] != p {
		return "", "", false
	}
	rest := subject[len(p):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			return rest[:i], "tether.s." + rest, true
		}
	}
	return "", "", false
}

// Enrollment is the grant of an agent enrolling with activation, holding nkey: an
// account of its own key (agents enrolling with one activation cannot aim answers at each
// other), counted with the others of its activation (Account.Activation).
func Enrollment(activation, nkey string) Grant {
	acc := Account{
		Name:       AccountName(KindEnrollment, nkey),
		Kind:       KindEnrollment,
		Imports:    []Import{{Local: subjects.Enroll(activation, nkey)}},
		Limits:     EnrollmentLimits,
		Activation: activation,
	}
	return Grant{Account: acc, Permissions: Permissions{
		Publish:   []string{subjects.Enroll(activation, nkey)},
		Subscribe: []string{subjects.EnrollInbox(nkey) + ".>"},
	}}
}

// Shipper is the grant of the out-of-process recording shipper name: it fetches from and
// acknowledges the durables the broker made for shippers, reads the streams and buckets
// it ships with direct gets, and writes the recordings bucket. It can create, change or
// delete nothing else.
func Shipper(name string) Grant {
	acc := Account{Name: AccountName(KindShipper, name), Kind: KindShipper, Limits: ShipperLimits}
	var pub []string
	for _, s := range ShipperJetStream() {
		acc.Imports = append(acc.Imports, Import{Local: s.Local, Remote: s.Remote, Streamed: s.Streamed})
		pub = append(pub, s.Local)
	}
	return Grant{Account: acc, Permissions: Permissions{
		Publish:   pub,
		Subscribe: []string{subjects.ShipperInbox(name) + ".>"},
	}}
}

// ServiceExport is a subject the service account exports.
type ServiceExport struct {
	Subject  string
	Stream   bool
	Streamed bool
}

// ServiceExports are everything the service account offers principals' accounts; each
// principal account imports a part of it, scoped to the principal.
func ServiceExports() []ServiceExport {
	out := []ServiceExport{
		{Subject: subjects.APIAll},
		{Subject: subjects.AgentAPIAll},
		{Subject: subjects.EnrollAll},
		{Subject: "tether.s.*.*.*.out"}, // an agent's output, into the transcript stream
		{Subject: "tether.s.*.*.*.rin"}, // an agent's record of the input, likewise
		{Subject: RefusedAll},
		{Subject: liveOut, Stream: true},
		{Subject: subjects.EventsAll, Stream: true},
	}
	for _, s := range ShipperJetStream() {
		out = append(out, ServiceExport{Subject: s.Remote, Streamed: s.Streamed})
	}
	return out
}
