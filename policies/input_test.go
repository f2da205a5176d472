package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tetherhq/tether/streams/wire/api"
)

// TestInputValueMatchesJSON holds Input.value to the JSON encoding of Input, which is
// what README.md documents and what `opa eval --input` would see.
func TestInputValueMatchesJSON(t *testing.T) {
	tests := []Input{
		{},
		{Principal: api.Principal{Name: "bob"}, Action: "WhoAmI"},
		{
			Principal: api.Principal{Name: "alice", Kind: "user", Groups: []string{"dev", "ops"}, Attributes: map[string]string{"env": "staging", "team": "web"}},
			Action:    "StartSession",
			Target:    &Target{ID: "i-1", Name: "web-1", Hostname: "web-1.internal", OS: "linux", Tags: map[string]string{"access-groups": "dev", "env": "staging"}},
			Session:   &Session{ID: "alice-1", Owner: "alice", Target: "i-1", Document: "Tether-SessionManagerRunShell"},
			Document: &Document{
				Name: "Tether-StartPortForwardingSession", Type: "Port", Version: 3,
				Parameters:    map[string][]string{"portNumber": {"80"}, "localPortNumber": {"9999", "9998"}, "empty": {}, "nil": nil},
				RunAsElevated: true,
			},
			Time:     time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600)),
			Subject:  &api.Principal{Name: "bob", Kind: "user", Groups: []string{"qa"}},
			SourceIP: "192.0.2.7",
		},
		{Action: "StartSession", Target: &Target{}, Session: &Session{}, Document: &Document{}},
		{Action: "ListDocuments", Document: &Document{Name: "d", Parameters: map[string][]string{}, Version: -1}},
		{Action: "StartSession", Forwards: []Forward{{Port: 80}, {Host: "db-1", Port: 5432}, {UnixSocket: "/run/x.sock"}}},
		{Action: "ForwardConnection", Forward: &ForwardConn{Dest: 2, Host: "db-1", Port: 5432, Address: "10.0.0.7:5432", IP: "10.0.0.7", Peer: "127.0.0.1:5000"}},
		{Action: "ForwardConnection", Forward: &ForwardConn{}},
	}
	for _, in := range tests {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := in.value(); got.Compare(want) != 0 {
			t.Errorf("value() = %v\nJSON    = %v", got, want)
		}
	}
}

// TestREADMEInput checks that the input example in README.md is an Input.
func TestREADMEInput(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Input")
	if !ok {
		t.Fatal("README.md has no Input section")
	}
	_, rest, ok = strings.Cut(rest, "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md's Input section has no JSON example")
	}
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("decode README input example: %v", err)
	}
	if in.Target == nil || in.Principal.Name == "" || in.Time.IsZero() {
		t.Errorf("README input example decoded to %+v", in)
	}
	d, err := newEvaluator(t).Decide(context.Background(), in)
	if err != nil || !d.Allow {
		t.Errorf("Decide(README example) = %+v, %v; want allow", d, err)
	}
}
