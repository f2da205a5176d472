package clicmd

import (
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

// terminate-session takes --session-id as aws ssm does, and the id as its one argument
// as a shortcut; so do the other verbs that act on one thing.
func TestOneIDFlagOrArgument(t *testing.T) {
	e := newEnv(t)
	var terminated, deletedDocs, deletedActs []string
	e.handle(api.VerbTerminateSession, func(data []byte) (any, error) {
		req := decode[api.TerminateSessionRequest](t, data)
		terminated = append(terminated, req.SessionID)
		return api.TerminateSessionResponse{SessionID: req.SessionID}, nil
	})
	e.handle(api.VerbDeleteDocument, func(data []byte) (any, error) {
		deletedDocs = append(deletedDocs, decode[api.DeleteDocumentRequest](t, data).Name)
		return api.Empty{}, nil
	})
	e.handle(api.VerbDeleteActivation, func(data []byte) (any, error) {
		deletedActs = append(deletedActs, decode[api.DeleteActivationRequest](t, data).ID)
		return api.Empty{}, nil
	})
	for _, args := range [][]string{
		{"terminate-session", "--session-id", "alice-1"},
		{"terminate-session", "alice-2"},
		{"terminate-session", "--session-id", "alice-3", "alice-3"},
		{"delete-document", "--name", "D1"},
		{"delete-document", "D2"},
		{"admin", "activation", "delete", "--activation-id", "act-1"},
		{"admin", "activation", "delete", "act-2"},
	} {
		if r := e.run("", args...); r.code != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %q, want %q", what, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %q, want %q", what, got, want)
			}
		}
	}
	check("terminated", terminated, "alice-1", "alice-2", "alice-3")
	check("deleted documents", deletedDocs, "D1", "D2")
	check("deleted activations", deletedActs, "act-1", "act-2")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"terminate-session", "--session-id", "alice-1", "alice-2"},
			"tether: --session-id alice-1 and the argument alice-2 name two things: give one\nTry: tether terminate-session --help\n"},
		{[]string{"terminate-session", "alice-1", "alice-2"},
			"tether: unexpected argument \"alice-2\": give one --session-id\nTry: tether terminate-session --help\n"},
		{[]string{"resume-session", "a", "b"},
			"tether: unexpected argument \"b\": give one --session-id\nTry: tether resume-session --help\n"},
		{[]string{"admin", "activation", "delete"},
			"tether: --activation-id is required (or give it as the one argument)\nTry: tether admin activation delete --help\n"},
	} {
		if r := e.run("", tc.args...); r.code != 2 || r.stderr != tc.want {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if n := len(terminated); n != 3 {
		t.Errorf("a refused command line reached the broker: %d terminations", n)
	}
}
