package clicmd

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/streams/wire/api"
)

// complete runs cobra's __complete as the shell's completion script does and returns
// the candidates (without descriptions) and the directive line.
func (e *env) complete(cfgPath string, args ...string) (cands []string, directive string, r result) {
	r = e.runEnv(map[string]string{"TETHER_CONFIG": cfgPath}, "", append([]string{"__complete"}, args...)...)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	directive = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		cands = append(cands, v)
	}
	return cands, directive, r
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	var sessionStates []string
	e.handle(api.VerbDescribeInstances, func([]byte) (any, error) { return instances, nil })
	e.handle(api.VerbDescribeSessions, func(data []byte) (any, error) {
		req := decode[api.DescribeSessionsRequest](t, data)
		sessionStates = append(sessionStates, req.State)
		return api.DescribeSessionsResponse{Sessions: []api.Session{
			{ID: "alice-0a1b", Target: "mi-0a1b2c", State: api.StateConnected},
			{ID: "alice-ffee", Target: "mi-ffff", State: api.StateConnected},
		}}, nil
	})
	e.handle(api.VerbListDocuments, func([]byte) (any, error) {
		return api.ListDocumentsResponse{Documents: []api.DocumentDescription{
			{Name: api.DocPreferences, SessionType: api.SessionTypeStandardStream},
			{Name: "Ops-Restart", SessionType: api.SessionTypeNonInteractive},
		}}, nil
	})
	const noFiles = ":4" // cobra.ShellCompDirectiveNoFileComp
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"start-session", "--target", ""}, "mi-0a1b2c web-1 mi-ffff"},
		{[]string{"start-session", "--target", "w"}, "web-1"},
		{[]string{"shell", ""}, "mi-0a1b2c web-1 mi-ffff"},
		{[]string{"shell", "web-1", ""}, ""},
		{[]string{"describe-instance-information", "--instance-ids", "mi-f"}, "mi-ffff"},
		{[]string{"terminate-session", ""}, "alice-0a1b alice-ffee"},
		{[]string{"terminate-session", "--session-id", "alice-f"}, "alice-ffee"},
		{[]string{"resume-session", ""}, "alice-0a1b alice-ffee"},
		{[]string{"start-session", "--target", "web-1", "--document-name", ""}, api.DocPreferences + " Ops-Restart"},
		{[]string{"get-document", "--name", "Ops"}, "Ops-Restart"},
		{[]string{"delete-document", ""}, api.DocPreferences + " Ops-Restart"},
		{[]string{"policy", "eval", "--target", "mi-0"}, "mi-0a1b2c"},
		{[]string{"describe-sessions", "--state", ""}, "Active History"},
		{[]string{"describe-sessions", "--output", ""}, "table json"},
		{[]string{"list-documents", "--session-type", ""}, strings.Join(sessionTypes, " ")},
		{[]string{"create-document", "--document-format", ""}, "YAML JSON"},
	} {
		got, dir, r := e.complete(e.cfgPath, tc.args...)
		if strings.Join(got, " ") != tc.want || dir != noFiles || r.code != 0 {
			t.Errorf("__complete %q: %q, directive %s, exit %d, stderr %q; want %q", tc.args, got, dir, r.code, r.stderr, tc.want)
		}
	}
	for _, s := range sessionStates {
		if s != "Active" {
			t.Errorf("session completion asked for %s sessions; only active ones can be ended or resumed", s)
		}
	}
}

// With no broker to ask, completion offers nothing, prints no error, and does not keep
// the shell waiting.
func TestCompletionWithoutBroker(t *testing.T) {
	e := newEnv(t)
	c, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.NKeySeedFile = c.SeedPath()
	c.BrokerURL = "nats://127.0.0.1:1"
	gone := filepath.Join(t.TempDir(), "gone.json")
	if err := config.Write(gone, c); err != nil {
		t.Fatal(err)
	}
	for _, cfgPath := range []string{gone, filepath.Join(t.TempDir(), "missing.json")} {
		for _, args := range [][]string{{"start-session", "--target", ""}, {"terminate-session", ""}, {"get-document", "--name", ""}} {
			begin := time.Now()
			got, dir, r := e.complete(cfgPath, args...)
			if len(got) != 0 || dir != ":4" || r.code != 0 || strings.Contains(r.stderr, "tether:") {
				t.Errorf("%s: __complete %q: %q, directive %s, exit %d, stderr %q", cfgPath, args, got, dir, r.code, r.stderr)
			}
			if d := time.Since(begin); d > 3*time.Second {
				t.Errorf("%s: __complete %q took %v", cfgPath, args, d)
			}
		}
	}
	// The verbs and the fixed values need no broker.
	if got, _, _ := e.complete(gone, "describe-sessions", "--state", ""); strings.Join(got, " ") != "Active History" {
		t.Errorf("--state without a broker: %q", got)
	}
	if got, _, _ := e.complete(gone, "terminate-"); strings.Join(got, " ") != "terminate-session" {
		t.Errorf("verbs without a broker: %q", got)
	}
}
