package control

import (
	"testing"
	"time"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/wire/api"
)

func TestSessionLimits(t *testing.T) {
	alice := caller{name: "alice", principal: api.Principal{Name: "alice"}}
	bob := caller{name: "bob", principal: api.Principal{Name: "bob", Attributes: map[string]string{RunAsAttribute: "bob-ops"}}}
	prefs := api.Preferences{IdleSessionTimeout: 20, MaxSessionDuration: 60, RunAsEnabled: true, RunAsDefaultUser: "ssm-user"}
	for _, tc := range []struct {
		name string
		p    plan
		c    caller
		ob   policies.Obligations
		want limits
	}{
		{"preferences alone", plan{prefs: prefs}, alice, policies.Obligations{},
			limits{idle: 20 * time.Minute, max: time.Hour, runAs: "ssm-user"}},
		{"no limits at all", plan{}, alice, policies.Obligations{}, limits{}},
		{"obligations tighten", plan{prefs: prefs}, alice, policies.Obligations{IdleTimeout: 5 * time.Minute, MaxDuration: 10 * time.Minute},
			limits{idle: 5 * time.Minute, max: 10 * time.Minute, runAs: "ssm-user"}},
		{"obligations cannot loosen", plan{prefs: prefs}, alice, policies.Obligations{IdleTimeout: 50 * time.Minute, MaxDuration: 5 * time.Hour},
			limits{idle: 20 * time.Minute, max: time.Hour, runAs: "ssm-user"}},
		{"an obligation limits what preferences leave open", plan{}, alice, policies.Obligations{MaxDuration: time.Second},
			limits{max: time.Second}},
		{"the user's own run-as account", plan{prefs: prefs}, bob, policies.Obligations{},
			limits{idle: 20 * time.Minute, max: time.Hour, runAs: "bob-ops"}},
		{"the policy names the account", plan{prefs: prefs}, bob, policies.Obligations{RunAs: "readonly"},
			limits{idle: 20 * time.Minute, max: time.Hour, runAs: "readonly"}},
		{"an elevated document ignores run-as", plan{prefs: prefs, elevated: true}, bob, policies.Obligations{},
			limits{idle: 20 * time.Minute, max: time.Hour}},
		{"but not the policy's run-as", plan{prefs: prefs, elevated: true}, bob, policies.Obligations{RunAs: "readonly"},
			limits{idle: 20 * time.Minute, max: time.Hour, runAs: "readonly"}},
		{"run-as off", plan{prefs: api.Preferences{RunAsDefaultUser: "ssm-user"}}, bob, policies.Obligations{}, limits{}},
	} {
		s := &Service{}
		if got := s.sessionLimits(tc.p, tc.c, tc.ob); got != tc.want {
			t.Errorf("%s: limits = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// FuzzDocumentRequest: any CreateDocument body is decoded and its content checked
// without a panic, and accepted content names a known session type.
func FuzzDocumentRequest(f *testing.F) {
	f.Add([]byte(`{"name":"Greet","content":"schemaVersion: '1.0'\nsessionType: Standard_Stream\n"}`))
	f.Add([]byte(`{"name":"J","content":"{\"schemaVersion\":\"1.0\",\"sessionType\":\"Port\"}","document_format":"JSON"}`))
	f.Add([]byte(`{"name":"x","content":"a: [","document_format":"yaml"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r api.CreateDocumentRequest
		if decode(api.VerbCreateDocument, b, &r) != nil {
			return
		}
		d, _, err := checkContent(api.VerbCreateDocument, r.Name, r.Content, r.DocumentFormat)
		if err != nil {
			return
		}
		switch typ, _, _ := d.Describe(); typ {
		case api.SessionTypeStandardStream, api.SessionTypeInteractive, api.SessionTypeNonInteractive, api.SessionTypePort:
		default:
			t.Fatalf("accepted a document of session type %q", typ)
		}
	})
}
