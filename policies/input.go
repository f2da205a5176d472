package policies

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Input is the decision input, seen by the policy as input. Its JSON form is documented
// in README.md.
type Input struct {
	Principal api.Principal `json:"principal"`
	Action    string        `json:"action"`
	// Target is the instance acted on: for StartSession; for the session verbs, the
	// session's instance; for DescribeInstanceInformation, the item being filtered.
	Target *Target `json:"target,omitempty"`
	// Session is the session acted on: for TerminateSession, ResumeSession, GetSession
	// and ReadTranscript; for DescribeSessions, the item being filtered.
	Session *Session `json:"session,omitempty"`
	// Document is the document a request names: the session document of StartSession,
	// the document of the document verbs (for ListDocuments, the item being filtered),
	// the preferences document of GetPreferences and UpdatePreferences.
	Document *Document `json:"document,omitempty"`
	// Subject is whom an EvaluatePolicy asks about; the principal is who asks.
	Subject *api.Principal `json:"subject,omitempty"`
	// Forwards are the destinations of a port forwarding session: for StartSession of
	// one.
	Forwards []Forward `json:"forwards,omitempty"`
	// Forward is one connection of a port forwarding session: for ForwardConnection.
	Forward  *ForwardConn `json:"forward,omitempty"`
	Time     time.Time    `json:"time"` // request time
	SourceIP string       `json:"source_ip,omitempty"`
}

// Forward is one destination of a port forwarding session. Every key is always
// present, so that a rule can compare without object.get: host "" is the node itself,
// port 0 goes with a unix socket.
type Forward struct {
	Host       string `json:"host"`
	Port       int    `json:"port"`
	UnixSocket string `json:"unix_socket"`
}

// ForwardConn is one connection of a port forwarding session, as the node is about to
// dial it. Every key is always present.
type ForwardConn struct {
	// Dest is the index of the destination in the session's forwards.
	Dest int `json:"dest"`
	// Host, Port and UnixSocket are the destination as the session named it.
	Host       string `json:"host"`
	Port       int    `json:"port"`
	UnixSocket string `json:"unix_socket"`
	// Address is what the node will dial: "ip:port" as it resolved Host, or the unix
	// socket's path. IP is the address's IP alone (IPv4-mapped addresses as IPv4), ""
	// for a unix socket.
	Address string `json:"address"`
	IP      string `json:"ip"`
	// OnNode says IP is one of the node's own addresses (of one of its interfaces), as
	// the node reports it: the node itself, as loopback is.
	OnNode bool `json:"on_node"`
	// Peer is the client's end of the connection as the client reported it: information,
	// not identity.
	Peer string `json:"peer"`
}

// Target is the managed instance a session would run on.
type Target struct {
	ID       string            `json:"id"`
	Name     string            `json:"name,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	OS       string            `json:"os,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// Session is the existing session an action is about.
type Session struct {
	ID       string `json:"id"`
	Owner    string `json:"owner"`
	Target   string `json:"target"`
	Document string `json:"document,omitempty"` // the name of the document it runs
}

// Document is the document a request names.
type Document struct {
	Name string `json:"name"`
	// Type is the document's sessionType, e.g. "Standard_Stream" or "Port".
	Type    string `json:"type,omitempty"`
	Version int    `json:"version,omitempty"`
	// Parameters are the parameters a StartSession passes, in SSM's form.
	Parameters map[string][]string `json:"parameters,omitempty"`
	// RunAsElevated is the document's runAsElevated property.
	RunAsElevated bool `json:"run_as_elevated,omitempty"`
}

// value builds the policy input directly as an AST value. It yields exactly what the
// JSON encoding of in would (TestInputValueMatchesJSON holds it to that), without the
// encode and decode.
func (in Input) value() ast.Value {
	obj := ast.NewObjectWithCapacity(8)
	obj.Insert(ast.StringTerm("principal"), principalTerm(in.Principal))
	obj.Insert(ast.StringTerm("action"), ast.StringTerm(in.Action))
	if t := in.Target; t != nil {
		o := ast.NewObjectWithCapacity(5)
		o.Insert(ast.StringTerm("id"), ast.StringTerm(t.ID))
		insertString(o, "name", t.Name)
		insertString(o, "hostname", t.Hostname)
		insertString(o, "os", t.OS)
		if len(t.Tags) > 0 {
			o.Insert(ast.StringTerm("tags"), stringMapTerm(t.Tags))
		}
		obj.Insert(ast.StringTerm("target"), ast.NewTerm(o))
	}
	if s := in.Session; s != nil {
		o := ast.NewObjectWithCapacity(4)
		o.Insert(ast.StringTerm("id"), ast.StringTerm(s.ID))
		o.Insert(ast.StringTerm("owner"), ast.StringTerm(s.Owner))
		o.Insert(ast.StringTerm("target"), ast.StringTerm(s.Target))
		insertString(o, "document", s.Document)
		obj.Insert(ast.StringTerm("session"), ast.NewTerm(o))
	}
	if d := in.Document; d != nil {
		obj.Insert(ast.StringTerm("document"), documentTerm(d))
	}
	if in.Subject != nil {
		obj.Insert(ast.StringTerm("subject"), principalTerm(*in.Subject))
	}
	if len(in.Forwards) > 0 {
		terms := make([]*ast.Term, len(in.Forwards))
		for i, f := range in.Forwards {
			o := ast.NewObjectWithCapacity(3)
			o.Insert(ast.StringTerm("host"), ast.StringTerm(f.Host))
			o.Insert(ast.StringTerm("port"), ast.IntNumberTerm(f.Port))
			o.Insert(ast.StringTerm("unix_socket"), ast.StringTerm(f.UnixSocket))
			terms[i] = ast.NewTerm(o)
		}
		obj.Insert(ast.StringTerm("forwards"), ast.ArrayTerm(terms...))
	}
	if f := in.Forward; f != nil {
		o := ast.NewObjectWithCapacity(8)
		o.Insert(ast.StringTerm("dest"), ast.IntNumberTerm(f.Dest))
		o.Insert(ast.StringTerm("host"), ast.StringTerm(f.Host))
		o.Insert(ast.StringTerm("port"), ast.IntNumberTerm(f.Port))
		o.Insert(ast.StringTerm("unix_socket"), ast.StringTerm(f.UnixSocket))
		o.Insert(ast.StringTerm("address"), ast.StringTerm(f.Address))
		o.Insert(ast.StringTerm("ip"), ast.StringTerm(f.IP))
		o.Insert(ast.StringTerm("on_node"), ast.BooleanTerm(f.OnNode))
		o.Insert(ast.StringTerm("peer"), ast.StringTerm(f.Peer))
		obj.Insert(ast.StringTerm("forward"), ast.NewTerm(o))
	}
	obj.Insert(ast.StringTerm("time"), ast.StringTerm(in.Time.Format(time.RFC3339Nano)))
	insertString(obj, "source_ip", in.SourceIP)
	return obj
}

func documentTerm(d *Document) *ast.Term {
	o := ast.NewObjectWithCapacity(5)
	o.Insert(ast.StringTerm("name"), ast.StringTerm(d.Name))
	insertString(o, "type", d.Type)
	if d.Version != 0 {
		o.Insert(ast.StringTerm("version"), ast.IntNumberTerm(d.Version))
	}
	if len(d.Parameters) > 0 {
		params := ast.NewObjectWithCapacity(len(d.Parameters))
		for k, vs := range d.Parameters {
			params.Insert(ast.StringTerm(k), stringsTerm(vs))
		}
		o.Insert(ast.StringTerm("parameters"), ast.NewTerm(params))
	}
	if d.RunAsElevated {
		o.Insert(ast.StringTerm("run_as_elevated"), ast.BooleanTerm(true))
	}
	return ast.NewTerm(o)
}

// stringsTerm is ss as an array, or null for a nil slice, as encoding/json has it.
func stringsTerm(ss []string) *ast.Term {
	if ss == nil {
		return ast.NullTerm()
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

func principalTerm(p api.Principal) *ast.Term {
	o := ast.NewObjectWithCapacity(4)
	o.Insert(ast.StringTerm("name"), ast.StringTerm(p.Name))
	o.Insert(ast.StringTerm("kind"), ast.StringTerm(p.Kind))
	if len(p.Groups) > 0 {
		o.Insert(ast.StringTerm("groups"), stringsTerm(p.Groups))
	}
	if len(p.Attributes) > 0 {
		o.Insert(ast.StringTerm("attributes"), stringMapTerm(p.Attributes))
	}
	return ast.NewTerm(o)
}

func stringMapTerm(m map[string]string) *ast.Term {
	o := ast.NewObjectWithCapacity(len(m))
	for k, v := range m {
		o.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
	return ast.NewTerm(o)
}

// insertString adds key: s to o unless s is empty, like the omitempty JSON tag.
func insertString(o ast.Object, key, s string) {
	if s != "" {
		o.Insert(ast.StringTerm(key), ast.StringTerm(s))
	}
}
