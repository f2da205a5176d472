package brokerd_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/wire/api"
)

const echoDoc = `schemaVersion: '1.0'
description: Print a greeting
sessionType: NonInteractiveCommands
parameters:
  name:
    type: String
    description: whom to greet
    maxChars: 200
properties:
  linux:
    commands: printf 'hello %s\n' {{ name }}
`

func TestDocumentsStoredAndVersioned(t *testing.T) {
	s := brokertest.NewServer(t)
	bobSeed := s.AddUser("bob", []string{"dev"}, nil)
	bob := s.ConnectUser("bob", bobSeed)

	var created api.DocumentResponse
	if err := s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Greet", Content: echoDoc}, &created); err != nil {
		t.Fatal(err)
	}
	if d := created.Document; d.Version != 1 || d.SessionType != api.SessionTypeNonInteractive || d.Owner != "admin" || len(d.Hash) != 64 {
		t.Fatalf("created = %+v", d)
	}
	// Creating it again is a conflict; a reserved name and a malformed document are refused
	// with what was wrong.
	err := s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Greet", Content: echoDoc}, nil)
	if !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("second create: %v", err)
	}
	err = s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Tether-Mine", Content: echoDoc}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("reserved name: %v", err)
	}
	bad := strings.Replace(echoDoc, "sessionType:", "sesionType:", 1)
	err = s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Bad", Content: bad}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "sesionType") {
		t.Fatalf("unknown field: %v", err)
	}
	// Only admins manage documents under the shipped policy.
	err = s.Call(bob, "bob", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "BobDoc", Content: echoDoc}, nil)
	if !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("bob creating: %v", err)
	}

	v2 := strings.Replace(echoDoc, "hello", "hi", 1)
	var updated api.DocumentResponse
	if err := s.Call(s.Admin, "admin", api.VerbUpdateDocument, api.UpdateDocumentRequest{Name: "Greet", Content: v2, DocumentVersion: "1"}, &updated); err != nil {
		t.Fatal(err)
	}
	if updated.Document.Version != 2 {
		t.Fatalf("updated = %+v", updated.Document)
	}
	// An update based on a stale version is refused.
	err = s.Call(s.Admin, "admin", api.VerbUpdateDocument, api.UpdateDocumentRequest{Name: "Greet", Content: echoDoc, DocumentVersion: "1"}, nil)
	if !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("stale update: %v", err)
	}
	var got api.GetDocumentResponse
	if err := s.Call(bob, "bob", api.VerbGetDocument, api.GetDocumentRequest{Name: "Greet"}, &got); err != nil || got.Content != v2 || got.Document.Version != 2 {
		t.Fatalf("get latest = %+v, %v", got, err)
	}
	if err := s.Call(bob, "bob", api.VerbGetDocument, api.GetDocumentRequest{Name: "Greet", DocumentVersion: "1"}, &got); err != nil || got.Content != echoDoc || got.Document.LatestVersion != 2 {
		t.Fatalf("get v1 = %+v, %v", got, err)
	}
	if err := s.Call(bob, "bob", api.VerbGetDocument, api.GetDocumentRequest{Name: "Greet", DocumentVersion: "7"}, nil); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("get v7: %v", err)
	}

	var list api.ListDocumentsResponse
	if err := s.Call(bob, "bob", api.VerbListDocuments, api.ListDocumentsRequest{}, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list.Documents {
		names = append(names, d.Name)
	}
	for _, want := range []string{"Greet", api.DocPreferences, api.DocInteractiveCommand, api.DocNonInteractiveCommand,
		api.DocPortForwarding, api.DocPortForwardingRemoteHost, api.DocSSH} {
		if !slices.Contains(names, want) {
			t.Errorf("list-documents lacks %s: %v", want, names)
		}
	}

	// Built-ins cannot be deleted or changed (but for the preferences document).
	if err := s.Call(s.Admin, "admin", api.VerbDeleteDocument, api.DeleteDocumentRequest{Name: api.DocSSH}, nil); !api.IsCode(err, api.CodeBadRequest) {
		t.Fatalf("delete built-in: %v", err)
	}
	if err := s.Call(s.Admin, "admin", api.VerbDeleteDocument, api.DeleteDocumentRequest{Name: "Greet"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Call(bob, "bob", api.VerbGetDocument, api.GetDocumentRequest{Name: "Greet"}, nil); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("get deleted: %v", err)
	}

	// An SSM user's own document loads unchanged.
	ssm, err := os.ReadFile("../../testdata/documents/view-log.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "ViewLog", Content: string(ssm)}, &created); err != nil {
		t.Fatal(err)
	}
	if created.Document.SessionType != api.SessionTypeInteractive || len(created.Document.Parameters) != 1 {
		t.Fatalf("ViewLog = %+v", created.Document)
	}
}

func TestStartSessionRunsDocument(t *testing.T) {
	s := brokertest.NewServer(t)
	agent := newFakeAgent(t, s, "web-1")
	if err := s.Call(s.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Greet", Content: echoDoc}, nil); err != nil {
		t.Fatal(err)
	}
	start := func(req api.StartSessionRequest) (api.AgentStart, error) {
		t.Helper()
		var resp api.StartSessionResponse
		if err := s.Call(s.Admin, "admin", api.VerbStartSession, req, &resp); err != nil {
			return api.AgentStart{}, err
		}
		agent.mu.Lock()
		defer agent.mu.Unlock()
		st := agent.starts[len(agent.starts)-1]
		if st.SessionID != resp.Session.ID || resp.Session.Document != req.Document && req.Document != "" {
			t.Fatalf("start %+v for response %+v", st, resp.Session)
		}
		return st, nil
	}

	// A parameter value is data: it reaches the shell as a positional parameter, never as
	// part of the script.
	evil := "x'; touch /tmp/pwned; echo '"
	st, err := start(api.StartSessionRequest{Target: "web-1", Document: "Greet", Parameters: map[string][]string{"name": {evil}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Interactive || len(st.Command) < 4 || st.Command[len(st.Command)-1] != evil || strings.Contains(st.Command[2], "pwned") {
		t.Fatalf("agent runs %q", st.Command)
	}
	for _, tc := range []struct {
		req  api.StartSessionRequest
		want string
	}{
		{api.StartSessionRequest{Target: "web-1", Document: "Greet"}, "name"},
		{api.StartSessionRequest{Target: "web-1", Document: "Greet", Parameters: map[string][]string{"name": {"a"}, "nmae": {"b"}}}, "nmae"},
		{api.StartSessionRequest{Target: "web-1", Document: "Greet", Parameters: map[string][]string{"name": {strings.Repeat("a", 201)}}}, "name"},
		{api.StartSessionRequest{Target: "web-1", Document: "Greet", Parameters: map[string][]string{"name": {"a\x00b"}}}, "name"},
		{api.StartSessionRequest{Target: "web-1", Document: "Greet", Command: []string{"id"}}, "defines its own commands"},
		{api.StartSessionRequest{Target: "web-1", Document: "Greet", Interactive: true, Parameters: map[string][]string{"name": {"a"}}}, "without a terminal"},
		{api.StartSessionRequest{Target: "web-1", Document: api.DocPortForwarding, Command: []string{"id"}}, "Port document"},
		{api.StartSessionRequest{Target: "web-1", Document: "NoSuchDoc", Interactive: true}, "NoSuchDoc"},
		{api.StartSessionRequest{Target: "web-1", Document: api.DocPreferences, Command: []string{"id"}}, "takes no command"},
	} {
		if _, err := start(tc.req); !api.IsCode(err, api.CodeBadRequest) && !api.IsCode(err, api.CodeNotFound) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("start %+v: %v, want an error about %q", tc.req, err, tc.want)
		}
	}

	// The built-in command documents: argv after --, or the command parameter split into
	// words without a shell.
	st, err = start(api.StartSessionRequest{Target: "web-1", Command: []string{"uname", "-a"}})
	if err != nil || !slices.Equal(st.Command, []string{"uname", "-a"}) || st.Interactive {
		t.Fatalf("argv start = %+v, %v", st, err)
	}
	st, err = start(api.StartSessionRequest{Target: "web-1", Document: api.DocInteractiveCommand, Interactive: true,
		Parameters: map[string][]string{"command": {`tail -f "/var/log/my app.log"; rm -rf /`}}})
	if err != nil || !slices.Equal(st.Command, []string{"tail", "-f", "/var/log/my app.log;", "rm", "-rf", "/"}) || !st.Interactive {
		t.Fatalf("command parameter start = %+v, %v", st, err)
	}
}

const prefsDoc = `schemaVersion: '1.0'
description: Session preferences
sessionType: Standard_Stream
inputs:
  s3BucketName: 'recordings'
  s3KeyPrefix: 'tether/'
  s3EncryptionEnabled: true
  cloudWatchLogGroupName: ''
  cloudWatchEncryptionEnabled: false
  cloudWatchStreamingEnabled: false
  kmsKeyId: ''
  runAsEnabled: true
  runAsDefaultUser: 'nobody'
  idleSessionTimeout: '5'
  maxSessionDuration: '30'
  shellProfile:
    windows: ''
    linux: 'cd /tmp'
`

func TestPreferencesShapeSessions(t *testing.T) {
	s := brokertest.NewServer(t)
	agent := newFakeAgent(t, s, "web-1")
	var got api.GetPreferencesResponse
	if err := s.Call(s.Admin, "admin", api.VerbGetPreferences, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Preferences.IdleSessionTimeout != 20 || got.Preferences.RunAsEnabled || !got.Document.Builtin {
		t.Fatalf("default preferences = %+v", got)
	}
	if err := s.Call(s.Admin, "admin", api.VerbUpdatePreferences, api.UpdateDocumentRequest{Content: prefsDoc}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Call(s.Admin, "admin", api.VerbGetPreferences, nil, &got); err != nil {
		t.Fatal(err)
	}
	if p := got.Preferences; p.IdleSessionTimeout != 5 || p.MaxSessionDuration != 30 || p.RunAsDefaultUser != "nobody" || p.S3BucketName != "recordings" || got.Document.Version != 2 {
		t.Fatalf("preferences = %+v", got)
	}
	// Out of range: refused, and the preferences in force stay.
	err := s.Call(s.Admin, "admin", api.VerbUpdatePreferences, api.UpdateDocumentRequest{Content: strings.Replace(prefsDoc, "'5'", "'61'", 1)}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "idleSessionTimeout") {
		t.Fatalf("idle 61: %v", err)
	}

	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	agent.mu.Lock()
	st := agent.starts[len(agent.starts)-1]
	agent.mu.Unlock()
	if st.RunAs != "nobody" || st.IdleTimeout.Std().Minutes() != 5 || st.MaxDuration.Std().Minutes() != 30 || st.ShellProfile != "cd /tmp" {
		t.Fatalf("agent start = %+v", st)
	}
	if se := start.Session; se.RunAs != "nobody" || se.MaxDuration != st.MaxDuration || se.DocumentVersion != 2 {
		t.Fatalf("session = %+v", se)
	}
}
