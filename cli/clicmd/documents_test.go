package clicmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

var opsShell = api.DocumentDescription{Name: "Ops-Shell", DocumentType: api.DocumentTypeSession,
	DocumentFormat: api.FormatYAML, SessionType: api.SessionTypeStandardStream, Version: 2, LatestVersion: 2,
	Owner: "alice", CreatedAt: hb, Hash: "9f86d081884c7d65"}

func TestWriteDocuments(t *testing.T) {
	var b bytes.Buffer
	err := writeDocuments(&b, api.ListDocumentsResponse{Documents: []api.DocumentDescription{
		{Name: api.DocPreferences, SessionType: api.SessionTypeStandardStream, Version: 1, Builtin: true},
		opsShell,
		{Name: "Evil\x1b[2J", SessionType: api.SessionTypeNonInteractive, Version: 7, Owner: "bob"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME                           TYPE                    VERSION  OWNER  BUILTIN\n" +
		"Tether-SessionManagerRunShell  Standard_Stream         1        -      true\n" +
		"Ops-Shell                      Standard_Stream         2        alice  false\n" +
		"Evil?[2J                       NonInteractiveCommands  7        bob    false\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCreateDocument(t *testing.T) {
	e := newEnv(t)
	var got api.CreateDocumentRequest
	e.handle(api.VerbCreateDocument, func(data []byte) (any, error) {
		got = decode[api.CreateDocumentRequest](t, data)
		d := opsShell
		d.Version, d.DocumentFormat = 1, got.DocumentFormat
		return api.DocumentResponse{Document: d}, nil
	})
	content := "  {\"schemaVersion\": \"1.0\", \"sessionType\": \"Standard_Stream\"}\n"
	path := filepath.Join(t.TempDir(), "ops-shell.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "create-document", "--name", "Ops-Shell", "--content", "file://"+path)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := api.CreateDocumentRequest{Name: "Ops-Shell", Content: content, DocumentType: "Session", DocumentFormat: "JSON"}
	if got != want {
		t.Errorf("request = %+v, want %+v", got, want)
	}
	wantOut := "Name:         Ops-Shell\nVersion:      1\nSession Type: Standard_Stream\nFormat:       JSON\n" +
		"Owner:        alice\nHash:         9f86d081884c7d65\n"
	if r.stdout != wantOut {
		t.Errorf("stdout:\n%s\nwant\n%s", r.stdout, wantOut)
	}

	r = e.run("", "-o", "json", "create-document", "--name", "Ops-Shell", "--document-type", "session",
		"--document-format", "yaml", "--content", "sessionType: Standard_Stream")
	if r.code != 0 || got.DocumentFormat != "YAML" || got.DocumentType != "Session" || got.Content != "sessionType: Standard_Stream" {
		t.Fatalf("exit %d, stderr %q, request %+v", r.code, r.stderr, got)
	}
	if d := decode[api.DocumentResponse](t, []byte(r.stdout)); d.Document.Name != "Ops-Shell" || d.Document.Hash == "" {
		t.Errorf("json %+v", d)
	}
}

func TestUpdateAndDeleteDocument(t *testing.T) {
	e := newEnv(t)
	var upd api.UpdateDocumentRequest
	e.handle(api.VerbUpdateDocument, func(data []byte) (any, error) {
		upd = decode[api.UpdateDocumentRequest](t, data)
		if upd.DocumentVersion == "1" {
			return nil, &api.Error{Code: api.CodeConflict, Message: "document Ops-Shell is at version 2, not 1"}
		}
		return api.DocumentResponse{Document: opsShell}, nil
	})
	var del api.DeleteDocumentRequest
	e.handle(api.VerbDeleteDocument, func(data []byte) (any, error) {
		del = decode[api.DeleteDocumentRequest](t, data)
		return api.Empty{}, nil
	})
	r := e.run("", "update-document", "--name", "Ops-Shell", "--content", "a: b\n", "--document-version", "$LATEST")
	if want := (api.UpdateDocumentRequest{Name: "Ops-Shell", Content: "a: b\n", DocumentFormat: "YAML", DocumentVersion: "$LATEST"}); r.code != 0 || upd != want {
		t.Errorf("exit %d, stderr %q, request %+v, want %+v", r.code, r.stderr, upd, want)
	}
	if !strings.HasPrefix(r.stdout, "Name:         Ops-Shell\nVersion:      2\n") {
		t.Errorf("stdout %q", r.stdout)
	}
	r = e.run("", "update-document", "--name", "Ops-Shell", "--content", "a: b\n", "--document-version", "1")
	if r.code != 1 || r.stderr != "tether: document Ops-Shell is at version 2, not 1\n" {
		t.Errorf("conflict: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.run("", "delete-document", "--name", "Ops-Shell")
	if r.code != 0 || del.Name != "Ops-Shell" || r.stdout != "Deleted document Ops-Shell\n" {
		t.Errorf("delete: exit %d, stdout %q, stderr %q, request %+v", r.code, r.stdout, r.stderr, del)
	}
}

func TestGetDocument(t *testing.T) {
	e := newEnv(t)
	content := "schemaVersion: \"1.0\"\r\ninputs:\n\tshellProfile: \"echo \x1b[31mhi\"\n"
	var got api.GetDocumentRequest
	e.handle(api.VerbGetDocument, func(data []byte) (any, error) {
		got = decode[api.GetDocumentRequest](t, data)
		return api.GetDocumentResponse{Document: opsShell, Content: content}, nil
	})
	r := e.run("", "get-document", "--name", "Ops-Shell", "--document-version", "2")
	if r.code != 0 || got != (api.GetDocumentRequest{Name: "Ops-Shell", DocumentVersion: "2"}) {
		t.Fatalf("exit %d, stderr %q, request %+v", r.code, r.stderr, got)
	}
	// The content as it is, but for the escape that would drive the terminal.
	if want := strings.Replace(content, "\x1b", "?", 1); r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = e.run("", "get-document", "--name", "Ops-Shell", "-o", "json")
	if resp := decode[api.GetDocumentResponse](t, []byte(r.stdout)); resp.Content != content || resp.Document.Name != "Ops-Shell" {
		t.Errorf("json %+v", resp)
	}
}

func TestListDocuments(t *testing.T) {
	e := newEnv(t)
	var got api.ListDocumentsRequest
	e.handle(api.VerbListDocuments, func(data []byte) (any, error) {
		got = decode[api.ListDocumentsRequest](t, data)
		return api.ListDocumentsResponse{}, nil
	})
	r := e.run("", "list-documents", "--session-type", "interactivecommands")
	if r.code != 0 || got.SessionType != api.SessionTypeInteractive || !strings.HasPrefix(r.stdout, "NAME ") {
		t.Errorf("exit %d, stdout %q, stderr %q, request %+v", r.code, r.stdout, r.stderr, got)
	}
	r = e.run("", "-o", "json", "list-documents")
	if strings.TrimSpace(r.stdout) != "{\n  \"documents\": []\n}" || got.SessionType != "" {
		t.Errorf("empty json = %q, request %+v", r.stdout, got)
	}
}

func TestPreferences(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbGetPreferences, func([]byte) (any, error) {
		return api.GetPreferencesResponse{
			Document: api.DocumentDescription{Name: api.DocPreferences, Version: 3},
			Preferences: api.Preferences{MaxSessionDuration: 60, RunAsEnabled: true, RunAsDefaultUser: "ssm-user",
				ShellProfileLinux: "export A=1\nexport B=2", S3BucketName: "audit"},
		}, nil
	})
	var upd api.UpdateDocumentRequest
	e.handle(api.VerbUpdatePreferences, func(data []byte) (any, error) {
		upd = decode[api.UpdateDocumentRequest](t, data)
		return api.DocumentResponse{Document: api.DocumentDescription{Name: api.DocPreferences, Version: 4}}, nil
	})
	r := e.run("", "get-preferences")
	want := "" +
		"document:                Tether-SessionManagerRunShell\n" +
		"version:                 3\n" +
		"idleSessionTimeout:      20 (default)\n" +
		"maxSessionDuration:      60\n" +
		"runAsEnabled:            true\n" +
		"runAsDefaultUser:        ssm-user\n" +
		"shellProfileLinux:       \"export A=1\\nexport B=2\"\n" +
		"transcriptRetentionDays: -\n" +
		"s3BucketName:            audit\n" +
		"s3KeyPrefix:             -\n" +
		"s3EncryptionEnabled:     false\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
	r = e.run("", "update-preferences", "--content", `{"inputs":{"idleSessionTimeout":"15"}}`)
	wantReq := api.UpdateDocumentRequest{Name: api.DocPreferences, Content: `{"inputs":{"idleSessionTimeout":"15"}}`, DocumentFormat: "JSON"}
	if r.code != 0 || upd != wantReq || !strings.Contains(r.stdout, "Version:      4\n") {
		t.Errorf("exit %d, stdout %q, stderr %q, request %+v", r.code, r.stdout, r.stderr, upd)
	}
}

func TestNewCommandUsageErrors(t *testing.T) {
	e := newEnv(t) // no control plane: each of these fails before asking
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create-document", "--content", "x"}, "tether: --name is required\nTry: tether create-document --help\n"},
		{[]string{"create-document", "--name", "D"}, "tether: --content is required\nTry: tether create-document --help\n"},
		{[]string{"create-document", "--name", "D", "--content", "x", "--document-type", "Command"},
			"tether: --document-type \"Command\": use Session\nTry: tether create-document --help\n"},
		{[]string{"create-document", "--name", "D", "--content", "x", "--document-format", "XML"},
			"tether: --document-format \"XML\": use YAML or JSON\nTry: tether create-document --help\n"},
		{[]string{"create-document", "--name", "D", "--content", "file://d.yaml"},
			"tether: --content file://d.yaml: no such file\nTry: tether create-document --help\n"},
		{[]string{"update-document", "--name", "D", "--content", "x", "--document-version", "latest"},
			"tether: --document-version \"latest\": use $LATEST or a version number\nTry: tether update-document --help\n"},
		{[]string{"update-document", "--content", "x"}, "tether: --name is required\nTry: tether update-document --help\n"},
		{[]string{"get-document"}, "tether: --name is required (or give it as the one argument)\nTry: tether get-document --help\n"},
		{[]string{"get-document", "--name", "D", "--document-version", "0"},
			"tether: --document-version \"0\": versions start at 1\nTry: tether get-document --help\n"},
		{[]string{"delete-document"}, "tether: --name is required (or give it as the one argument)\nTry: tether delete-document --help\n"},
		{[]string{"list-documents", "--session-type", "Shell"},
			"tether: --session-type \"Shell\": use Standard_Stream, InteractiveCommands, NonInteractiveCommands, Port\nTry: tether list-documents --help\n"},
		{[]string{"update-preferences"}, "tether: --content is required\nTry: tether update-preferences --help\n"},
		{[]string{"resume-session"}, "tether: --session-id is required (or give it as the one argument)\nTry: tether resume-session --help\n"},
		{[]string{"start-session", "--target", "web-1", "--parameters", "{\"a\":1}", "--", "ls"},
			"tether: --parameters {\"a\":1}: parameter \"a\": want a list of strings like [\"80\"], got 1\nTry: tether start-session --help\n"},
		{[]string{"start-session", "--target", "web-1", "--parameters", "port", "--", "ls"},
			"tether: --parameters \"port\": \"port\" is not NAME=VALUE (a value with a comma needs the JSON form {\"NAME\":[\"VALUE\"]})\nTry: tether start-session --help\n"},
		{[]string{"policy", "eval", "--user", "bob"}, "tether: --target is required\nTry: tether policy eval --help\n"},
		{[]string{"policy", "eval", "--target", "web-1", "--parameters", "{"},
			"tether: --parameters {: invalid JSON: unexpected end of JSON input\nTry: tether policy eval --help\n"},
		{[]string{"admin", "policy", "push"}, "tether: missing DIR\nTry: tether admin policy push --help\n"},
	} {
		r := e.run("", tc.args...)
		if r.code != 2 || r.stderr != tc.want {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestNewCommandsHaveExamples(t *testing.T) {
	root := (&app{}).newRoot()
	for _, path := range [][]string{
		{"create-document"}, {"update-document"}, {"get-document"}, {"list-documents"}, {"delete-document"},
		{"get-preferences"}, {"update-preferences"}, {"resume-session"}, {"policy", "eval"},
		{"admin", "policy", "push"}, {"admin", "policy", "status"}, {"start-session"},
	} {
		cmd, _, err := root.Find(path)
		if err != nil || cmd.Example == "" {
			t.Errorf("%q: no example (%v)", path, err)
		}
	}
}
