package policies

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tetherhq/tether/broker/api"
)

// Input is the decision input, seen by the policy as input. Its JSON form is documented
// in README.md.
type Input struct {
	Principal api.Principal `json:"principal"`
	Action    string        `json:"action"`
	Target    *Target       `json:"target,omitempty"`   // for StartSession
	Session   *Session      `json:"session,omitempty"`  // for TerminateSession, GetSession, ReadTranscript
	Document  *Document     `json:"document,omitempty"` // the session document, when one is named
	Time      time.Time     `json:"time"`               // request time
	SourceIP  string        `json:"source_ip,omitempty"`
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
	ID     string `json:"id"`
	Owner  string `json:"owner"`
	Target string `json:"target"`
}

// Document is the session document a request names.
type Document struct {
	Name string `json:"name"`
}

// value builds the policy input directly as an AST value. It yields exactly what the
// JSON encoding of in would (TestInputValueMatchesJSON holds it to that), without the
// encode and decode.
func (in Input) value() ast.Value {
	obj := ast.NewObjectWithCapacity(7)
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
		obj.Insert(ast.StringTerm("session"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("id"), ast.StringTerm(s.ID)),
			ast.Item(ast.StringTerm("owner"), ast.StringTerm(s.Owner)),
			ast.Item(ast.StringTerm("target"), ast.StringTerm(s.Target)),
		))
	}
	if d := in.Document; d != nil {
		obj.Insert(ast.StringTerm("document"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("name"), ast.StringTerm(d.Name)),
		))
	}
	obj.Insert(ast.StringTerm("time"), ast.StringTerm(in.Time.Format(time.RFC3339Nano)))
	insertString(obj, "source_ip", in.SourceIP)
	return obj
}

func principalTerm(p api.Principal) *ast.Term {
	o := ast.NewObjectWithCapacity(4)
	o.Insert(ast.StringTerm("name"), ast.StringTerm(p.Name))
	o.Insert(ast.StringTerm("kind"), ast.StringTerm(p.Kind))
	if len(p.Groups) > 0 {
		groups := make([]*ast.Term, len(p.Groups))
		for i, g := range p.Groups {
			groups[i] = ast.StringTerm(g)
		}
		o.Insert(ast.StringTerm("groups"), ast.ArrayTerm(groups...))
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
