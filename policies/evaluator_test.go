package policies

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

var (
	alice = api.Principal{Name: "alice", Kind: "user", Groups: []string{"dev"}, Attributes: map[string]string{"env": "staging"}}
	root  = api.Principal{Name: "root", Kind: "user", Groups: []string{"ops", api.AdminGroup}}
	bob   = api.Principal{Name: "bob", Kind: "user"}

	web1  = &Target{ID: "i-0001", Name: "web-1", Hostname: "web-1.internal", OS: "linux", Tags: map[string]string{"access-groups": "ops, dev", "env": "prod"}}
	db1   = &Target{ID: "i-0002", Name: "db-1", Tags: map[string]string{"access-groups": "dba", "env": "staging"}}
	vault = &Target{ID: "i-0003", Tags: map[string]string{"env": "prod"}}

	alicesSession = &Session{ID: "s-1", Owner: "alice", Target: "i-0001"}
)

func newEvaluator(t testing.TB, opts ...Option) *Evaluator {
	t.Helper()
	e, err := New(context.Background(), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func TestDecide(t *testing.T) {
	e := newEvaluator(t)
	adminVerbs := []string{
		api.VerbCreateActivation, api.VerbListActivations, api.VerbDeleteActivation,
		api.VerbAddUser, api.VerbListUsers, api.VerbRemoveUser, api.VerbDeregisterInstance,
	}
	type test struct {
		name string
		in   Input
		want Decision
	}
	allow := Decision{Allow: true}
	deny := func(reasons ...string) Decision { return Decision{Reasons: reasons} }
	tests := []test{
		{"start by group", Input{Principal: alice, Action: api.VerbStartSession, Target: web1}, allow},
		{"start by attribute", Input{Principal: alice, Action: api.VerbStartSession, Target: db1}, allow},
		{"start untagged", Input{Principal: alice, Action: api.VerbStartSession, Target: vault},
			deny("target i-0003 is not tagged for any of your groups or attributes")},
		{"start no groups", Input{Principal: bob, Action: api.VerbStartSession, Target: web1},
			deny("target web-1 is not tagged for any of your groups or attributes")},
		{"start no target", Input{Principal: alice, Action: api.VerbStartSession}, deny("StartSession requires a target")},
		{"admin start untagged", Input{Principal: root, Action: api.VerbStartSession, Target: vault}, allow},
		{"owner terminate", Input{Principal: alice, Action: api.VerbTerminateSession, Session: alicesSession}, allow},
		{"owner get", Input{Principal: alice, Action: api.VerbGetSession, Session: alicesSession}, allow},
		{"owner transcript", Input{Principal: alice, Action: api.VerbReadTranscript, Session: alicesSession}, allow},
		{"other terminate", Input{Principal: bob, Action: api.VerbTerminateSession, Session: alicesSession},
			deny("only the session's owner or an admin may terminate session s-1")},
		{"other transcript", Input{Principal: bob, Action: api.VerbReadTranscript, Session: alicesSession},
			deny("only the session's owner or an admin may read the transcript of session s-1")},
		{"admin terminate", Input{Principal: root, Action: api.VerbTerminateSession, Session: alicesSession}, allow},
		{"describe sessions", Input{Principal: bob, Action: api.VerbDescribeSessions}, allow},
		{"describe instances", Input{Principal: bob, Action: api.VerbDescribeInstances}, allow},
		{"whoami", Input{Principal: bob, Action: api.VerbWhoAmI}, allow},
		{"unknown", Input{Principal: alice, Action: "FormatDisk"}, deny(`unknown action "FormatDisk"`)},
		{"unknown admin", Input{Principal: root, Action: "FormatDisk"}, deny(`unknown action "FormatDisk"`)},
		{"no action", Input{Principal: root}, deny("the request names no action")},
	}
	for _, verb := range adminVerbs {
		tests = append(tests,
			test{"admin " + verb, Input{Principal: root, Action: verb}, allow},
			test{"user " + verb, Input{Principal: alice, Action: verb}, deny(verb + " requires membership in the admins group")},
		)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Time = now
			got, err := e.Decide(context.Background(), tt.in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got.Allow != tt.want.Allow || !slices.Equal(got.Reasons, tt.want.Reasons) || len(got.Obligations) != 0 {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// writePolicy writes files (name: source) to a new directory and returns it.
func writePolicy(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const minimalPolicy = `package tether.authz

default allow := false

allow if input.action == "WhoAmI"

decision := {"allow": allow, "reasons": reasons}

reasons := [] if allow else := ["only WhoAmI here"]
`

func TestWithDir(t *testing.T) {
	dir := writePolicy(t, map[string]string{
		"authz.rego": minimalPolicy,
		// Tests are not loaded: this one would not even compile with the policy.
		"authz_test.rego": "package tether.authz\n\ntest_x if undefined_rule\n",
	})
	e := newEvaluator(t, WithDir(dir))
	tests := []struct {
		action string
		want   Decision
	}{
		{"WhoAmI", Decision{Allow: true}},
		{"StartSession", Decision{Reasons: []string{"only WhoAmI here"}}},
	}
	for _, tt := range tests {
		got, err := e.Decide(context.Background(), Input{Principal: root, Action: tt.action})
		if err != nil {
			t.Fatalf("Decide(%s): %v", tt.action, err)
		}
		if got.Allow != tt.want.Allow || !slices.Equal(got.Reasons, tt.want.Reasons) {
			t.Errorf("Decide(%s) = %+v, want %+v", tt.action, got, tt.want)
		}
	}
}

func TestWithData(t *testing.T) {
	dir := writePolicy(t, map[string]string{"authz.rego": `package tether.authz

allow if input.principal.name in data.tether.allowed

decision := {"allow": true, "reasons": []} if allow
else := {"allow": false, "reasons": ["not on the list"]}
`})
	e := newEvaluator(t, WithDir(dir), WithData(map[string]any{
		"tether": map[string]any{"allowed": []string{"alice"}},
	}))
	for _, tt := range []struct {
		who  api.Principal
		want bool
	}{{alice, true}, {bob, false}} {
		got, err := e.Decide(context.Background(), Input{Principal: tt.who, Action: "WhoAmI"})
		if err != nil {
			t.Fatalf("Decide: %v", err)
		}
		if got.Allow != tt.want {
			t.Errorf("Decide(%s).Allow = %v, want %v", tt.who.Name, got.Allow, tt.want)
		}
	}

	if _, err := New(context.Background(), WithDir(dir), WithData(map[string]any{"c": make(chan int)})); err == nil {
		t.Error("New with data JSON cannot encode: no error")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{
			name: "parse error",
			files: map[string]string{
				"good.rego": minimalPolicy,
				"bad.rego":  "package tether.authz\n\n# Line 7 is broken.\n\nallow if input.action == \"WhoAmI\"\n\nallow if input.action ==* \"GetSession\"\n\ndeny := 1\n",
			},
			want: []string{"bad.rego:7: rego_parse_error"},
		},
		{
			name: "compile error",
			files: map[string]string{"authz.rego": `package tether.authz

decision := {"allow": allow}

allow if {
	input.action == "WhoAmI"
	no_such_rule
}
`},
			want: []string{"authz.rego:7: rego_unsafe_var_error", "no_such_rule"},
		},
		{
			name:  "type error",
			files: map[string]string{"authz.rego": "package tether.authz\n\ndecision := {\"allow\": true}\n\nx := count(1)\n"},
			want:  []string{"authz.rego:5: rego_type_error"},
		},
		{
			name:  "no decision",
			files: map[string]string{"authz.rego": "package tether.authz\n\nallow := true\n"},
			want:  []string{"no rule defines data.tether.authz.decision"},
		},
		{
			name:  "no files",
			files: map[string]string{"authz_test.rego": "package tether.authz\n"},
			want:  []string{"no *.rego files"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicy(t, tt.files)
			e, err := New(context.Background(), WithDir(dir))
			if err == nil {
				t.Fatalf("New = %v, want an error", e)
			}
			t.Logf("New error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "bad.rego") && !strings.Contains(err.Error(), filepath.Join(dir, "bad.rego")+":7:") {
				t.Errorf("New error %q does not name the file by its path", err)
			}
		})
	}
}

// TestDecideBrokenPolicy checks that a policy yielding no usable decision denies, with
// a public reason and an error for the log.
func TestDecideBrokenPolicy(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		wantErr string
	}{
		{"undefined", `decision := {"allow": true} if input.action == "never"`, "undefined"},
		{"allow not boolean", `decision := {"allow": "yes"}`, "not a boolean"},
		{"allow missing", `decision := {"reasons": []}`, "not a boolean"},
		{"not an object", `decision := true`, "not an object"},
		{"reasons not strings", `decision := {"allow": true, "reasons": [1]}`, "not a string"},
		{"obligations not object", `decision := {"allow": true, "obligations": []}`, "not an object"},
		{"unknown obligation", `decision := {"allow": true, "obligations": {"mfa": true}}`, "mfa: unknown obligation"},
		{"bad obligation", `decision := {"allow": true, "obligations": {"max_duration": "soon"}}`, `max_duration: "soon" is not a duration`},
		{"bad obligation on deny", `decision := {"allow": false, "obligations": {"run_as": 1}}`, "run_as: a number"},
		{"conflict", "decision := {\"allow\": true} if input.action\ndecision := {\"allow\": false} if input.action", "conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicy(t, map[string]string{"authz.rego": "package tether.authz\n\n" + tt.policy + "\n"})
			e := newEvaluator(t, WithDir(dir))
			got, err := e.Decide(context.Background(), Input{Principal: root, Action: "WhoAmI"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Decide error = %v, want one containing %q", err, tt.wantErr)
			}
			if got.Allow || !slices.Equal(got.Reasons, []string{policyErrorReason}) {
				t.Errorf("Decide = %+v, want deny with reason %q", got, policyErrorReason)
			}
		})
	}
}

func TestDecideDenyWithoutReason(t *testing.T) {
	dir := writePolicy(t, map[string]string{"authz.rego": "package tether.authz\n\ndecision := {\"allow\": false, \"reasons\": [\"b\", \"a\"]} if input.action == \"x\"\n\ndecision := {\"allow\": false} if input.action != \"x\"\n"})
	e := newEvaluator(t, WithDir(dir))
	for action, want := range map[string][]string{"x": {"a", "b"}, "y": {fallbackReason}} {
		got, err := e.Decide(context.Background(), Input{Action: action})
		if err != nil {
			t.Fatalf("Decide: %v", err)
		}
		if got.Allow || !slices.Equal(got.Reasons, want) {
			t.Errorf("Decide(%s) = %+v, want deny %q", action, got, want)
		}
	}
}

func TestDecideCanceled(t *testing.T) {
	e := newEvaluator(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := e.Decide(ctx, Input{Principal: root, Action: api.VerbWhoAmI})
	if err == nil || got.Allow {
		t.Errorf("Decide with canceled context = %+v, %v; want deny and an error", got, err)
	}
}

func TestDecideConcurrent(t *testing.T) {
	e := newEvaluator(t)
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				in := Input{Principal: alice, Action: api.VerbStartSession, Target: web1}
				want := true
				if (w+i)%2 == 1 {
					in.Target, want = vault, false
				}
				got, err := e.Decide(context.Background(), in)
				if err != nil {
					errs <- err.Error()
				} else if got.Allow != want {
					errs <- "wrong decision for target " + in.Target.ID
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// TestDecideObligations checks the obligations the shipped library's data
// imposes, parsed into Limits.
func TestDecideObligations(t *testing.T) {
	e := newEvaluator(t)
	staging := api.Principal{Name: "sara", Kind: "user", Groups: []string{"staging-users"}}
	target := &Target{ID: "i-10", Tags: map[string]string{"Environment": "staging"}}
	got, err := e.Decide(context.Background(), Input{
		Principal: staging, Action: api.VerbStartSession, Target: target,
		Document: &Document{Name: api.DocPreferences, Type: api.SessionTypeStandardStream},
		Time:     time.Now(),
	})
	if err != nil || !got.Allow {
		t.Fatalf("Decide = %+v, %v; want allow", got, err)
	}
	want := Obligations{MaxDuration: time.Hour, IdleTimeout: 10 * time.Minute}
	if got.Limits != want {
		t.Errorf("Decide Limits = %+v, want %+v", got.Limits, want)
	}
	if got.Obligations["max_duration"] != "1h" || got.Obligations["idle_timeout"] != "10m" || len(got.Obligations) != 2 {
		t.Errorf("Decide Obligations = %v, want the two the policy gave", got.Obligations)
	}
}

// TestDecideOnCall checks that an on-call session may not outlive the shift.
func TestDecideOnCall(t *testing.T) {
	now := time.Date(2025, 3, 10, 8, 15, 0, 0, time.UTC)
	e := newEvaluator(t, WithData(map[string]any{"tether": map[string]any{"oncall": []any{map[string]any{
		"users": []string{"bob"}, "tags": map[string]string{"env": "prod"},
		"from": "2025-03-03T09:00:00Z", "to": "2025-03-10T09:00:00Z",
	}}}}))
	in := Input{Principal: bob, Action: api.VerbStartSession, Target: vault, Time: now}
	got, err := e.Decide(context.Background(), in)
	if err != nil || !got.Allow || got.Limits.MaxDuration != 45*time.Minute {
		t.Errorf("Decide in shift = %+v, %v; want allow with max_duration 45m", got, err)
	}
	in.Time = now.Add(time.Hour)
	if got, err := e.Decide(context.Background(), in); err != nil || got.Allow {
		t.Errorf("Decide after shift = %+v, %v; want deny", got, err)
	}
}

func BenchmarkDecide(b *testing.B) {
	e := newEvaluator(b)
	in := Input{Principal: alice, Action: api.VerbStartSession, Target: web1, Time: time.Now(), SourceIP: "10.0.0.7"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Decide(ctx, in)
		if err != nil || !d.Allow {
			b.Fatalf("Decide = %+v, %v", d, err)
		}
	}
}

// BenchmarkDecideShipped decides StartSession requests against the shipped library
// and data, and reports p50 and p99 latencies besides the mean.
func BenchmarkDecideShipped(b *testing.B) {
	e := newEvaluator(b)
	staging := api.Principal{Name: "sara", Kind: "user", Groups: []string{"staging-users", "dev"}, Attributes: map[string]string{"team": "web"}}
	doc := &Document{Name: api.DocPreferences, Type: api.SessionTypeStandardStream, Version: 1}
	benches := []struct {
		name  string
		in    Input
		allow bool
	}{
		{"allow", Input{Principal: staging, Action: api.VerbStartSession, Target: &Target{
			ID: "i-10", Name: "app-staging", Tags: map[string]string{"Environment": "staging", "Name": "app"},
		}, Document: doc}, true},
		{"deny", Input{Principal: staging, Action: api.VerbStartSession, Target: &Target{
			ID: "i-11", Name: "app-prod", Tags: map[string]string{"Environment": "production", "Name": "app"},
		}, Document: doc}, false},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			in := bb.in
			in.Time, in.SourceIP = time.Now(), "10.0.0.7"
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				d, err := e.Decide(ctx, in)
				took = append(took, time.Since(start))
				if err != nil || d.Allow != bb.allow {
					b.Fatalf("Decide = %+v, %v", d, err)
				}
			}
			reportPercentiles(b, took)
		})
	}
}

// reportPercentiles reports the p50 and p99 of per-operation durations.
func reportPercentiles(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	at := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

func TestAdminGroups(t *testing.T) {
	ctx := t.Context()
	e, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AdminGroups(); len(got) != 1 || got[0] != "admins" {
		t.Fatalf("shipped policy's admin groups = %v, want [admins]", got)
	}
	e, err = New(ctx, WithData(map[string]any{"tether": map[string]any{"admin_groups": []any{"sre", "platform"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AdminGroups(); len(got) != 2 || got[0] != "sre" || got[1] != "platform" {
		t.Fatalf("admin groups from data = %v, want [sre platform]", got)
	}
	if got := NewLive(e).AdminGroups(); len(got) != 2 {
		t.Fatalf("Live.AdminGroups = %v", got)
	}
	if got := new(Live).AdminGroups(); got != nil {
		t.Fatalf("no policy: admin groups %v, want none", got)
	}
}
