package clicmd

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestWriteDecision(t *testing.T) {
	for _, tc := range []struct {
		resp api.EvaluatePolicyResponse
		want string
	}{
		{api.EvaluatePolicyResponse{Allow: true, Revision: "3f2a9c1d0b4e5f67",
			Obligations: map[string]any{"max_duration": "1h", "record": true, "idle_timeout_minutes": 15.0}},
			"allow\nobligation idle_timeout_minutes: 15\nobligation max_duration: 1h\nobligation record: true\nrevision: 3f2a9c1d0b4e5f67\n"},
		{api.EvaluatePolicyResponse{Reasons: []string{"web-1 is tagged env=prod", "bob is not on call\x1b[2J"}, Revision: "3f2a"},
			"deny\nreason: web-1 is tagged env=prod\nreason: bob is not on call?[2J\nrevision: 3f2a\n"},
		{api.EvaluatePolicyResponse{Obligations: map[string]any{"approvers": []any{"carol", "dan"}}},
			"deny\nobligation approvers: [\"carol\",\"dan\"]\nrevision: \n"},
	} {
		var b bytes.Buffer
		if err := writeDecision(&b, tc.resp); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("decision:\n%s\nwant\n%s", b.String(), tc.want)
		}
	}
}

func TestPolicyEval(t *testing.T) {
	e := newEnv(t)
	var got api.EvaluatePolicyRequest
	e.handle(api.VerbEvaluatePolicy, func(data []byte) (any, error) {
		got = decode[api.EvaluatePolicyRequest](t, data)
		if got.User == "bob" {
			return api.EvaluatePolicyResponse{Reasons: []string{"bob is not on call"}, Revision: "r1"}, nil
		}
		return api.EvaluatePolicyResponse{Allow: true, Revision: "r1"}, nil
	})
	r := e.run("", "policy", "eval", "--target", "web-1")
	if r.code != 0 || r.stdout != "allow\nrevision: r1\n" {
		t.Errorf("allow: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.run("", "policy", "eval", "--user", "bob", "--target", "web-1", "--document", "Ops-Restart",
		"--action", "StartSession", "--parameters", "service=nginx", "--parameters", `{"flags":["--now,--quiet"]}`)
	if r.code != exitDenied || r.stdout != "deny\nreason: bob is not on call\nrevision: r1\n" || r.stderr != "" {
		t.Errorf("deny: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	want := api.EvaluatePolicyRequest{User: "bob", Action: "StartSession", Target: "web-1", Document: "Ops-Restart",
		Parameters: map[string][]string{"service": {"nginx"}, "flags": {"--now,--quiet"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request = %+v, want %+v", got, want)
	}
	// A verb on a session needs no target; json output exits 3 on a denial too.
	r = e.run("", "-o", "json", "policy", "eval", "--user", "bob", "--action", "TerminateSession", "--session-id", "alice-1")
	if resp := decode[api.EvaluatePolicyResponse](t, []byte(r.stdout)); r.code != exitDenied || resp.Allow || got.SessionID != "alice-1" {
		t.Errorf("json: exit %d, %+v, request %+v", r.code, resp, got)
	}
}

func TestWritePolicyStatus(t *testing.T) {
	var b bytes.Buffer
	err := writePolicyStatus(&b, api.PolicyStatusResponse{
		Pushed: &api.PolicyBundleInfo{Revision: "3f2a9c1d0b4e5f67", Source: "pushed", PushedBy: "alice", PushedAt: hb, Files: 4},
		Brokers: []api.BrokerPolicy{
			{Server: "broker-a", Revision: "3f2a9c1d0b4e5f67", LoadedAt: hb.Add(time.Second)},
			{Server: "broker-b", Revision: "0000aaaa1111bbbb", LoadedAt: hb.Add(-time.Hour),
				Error: "authz.rego:4: rego_parse_error: unexpected identifier\n\tthis is not rego"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Pushed: 3f2a9c1d0b4e5f67 by alice at 2026-05-01T12:00:00Z (4 files)\n\n" +
		"SERVER    REVISION          LOADED                ERROR\n" +
		"broker-a  3f2a9c1d0b4e5f67  2026-05-01T12:00:01Z  -\n" +
		"broker-b  0000aaaa1111bbbb  2026-05-01T11:00:00Z  authz.rego:4: rego_parse_error: unexpected identifier??this is not rego\n"
	if b.String() != want {
		t.Errorf("status:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := writePolicyStatus(&b, api.PolicyStatusResponse{}); err != nil || b.String() != "Pushed: none\n\nSERVER  REVISION  LOADED  ERROR\n" {
		t.Errorf("no push: %q, %v", b.String(), err)
	}
}

func TestPolicyPush(t *testing.T) {
	e := newEnv(t)
	dir := writeTree(t, map[string]string{
		"authz.rego":      "package tether.authz\n",
		"lib/data.json":   "{}",
		"lib/helper.rego": "package tether.lib\n",
		"README.md":       "not sent\n",
	})
	var got api.PushPolicyRequest
	e.handle(api.VerbPushPolicy, func(data []byte) (any, error) {
		got = decode[api.PushPolicyRequest](t, data)
		if len(got.Files) == 1 {
			return nil, &api.Error{Code: api.CodeBadRequest, Message: "policy bundle refused: 2 errors occurred:\n" +
				"authz.rego:4: rego_parse_error: unexpected identifier token\n\tthis is not rego\n\t     ^\n" +
				"authz.rego:9: rego_type_error: undefined function\x1b[0m"}
		}
		return api.PushPolicyResponse{Bundle: api.PolicyBundleInfo{Revision: "3f2a9c1d0b4e5f67", Source: "pushed",
			PushedBy: "alice", PushedAt: hb, Files: len(got.Files)}}, nil
	})
	r := e.run("", "admin", "policy", "push", dir)
	if r.code != 0 || r.stdout != "Pushed policy revision 3f2a9c1d0b4e5f67 (3 files)\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if want := []api.PolicyFile{{Path: "authz.rego", Content: "package tether.authz\n"}, {Path: "lib/data.json", Content: "{}"},
		{Path: "lib/helper.rego", Content: "package tether.lib\n"}}; !reflect.DeepEqual(got.Files, want) {
		t.Errorf("files = %+v, want %+v", got.Files, want)
	}

	// A refused bundle's compile errors print in full, line by line.
	bad := writeTree(t, map[string]string{"authz.rego": "package tether.authz\n"})
	r = e.run("", "admin", "policy", "push", bad)
	want := "tether: policy bundle refused: 2 errors occurred:\n" +
		"  authz.rego:4: rego_parse_error: unexpected identifier token\n" +
		"  \tthis is not rego\n" +
		"  \t     ^\n" +
		"  authz.rego:9: rego_type_error: undefined function?[0m\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("refused: exit %d, stderr:\n%s\nwant\n%s", r.code, r.stderr, want)
	}

	r = e.run("", "admin", "policy", "push", t.TempDir())
	if r.code != 1 || !strings.HasSuffix(r.stderr, ": no .rego files\n") {
		t.Errorf("empty dir: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPolicyStatus(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbPolicyStatus, func(data []byte) (any, error) {
		decode[api.Empty](t, data)
		return api.PolicyStatusResponse{}, nil
	})
	r := e.run("", "-o", "json", "admin", "policy", "status")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "{\n  \"brokers\": []\n}" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
