package policies

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tetherhq/tether/streams/wire/api"
)

// writeTree writes files (slash path: content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	fsys := fstest.MapFS{}
	for p, content := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, fsys); err != nil {
		t.Fatal(err)
	}
	return dir
}

func bundleOf(files map[string]string) Bundle {
	b := Bundle{Files: map[string][]byte{}}
	for p, src := range files {
		b.Files[p] = []byte(src)
	}
	return b
}

const dataPolicy = `package tether.authz

decision := {"allow": input.principal.name in data.tether.allowed, "reasons": ["not on the list"], "obligations": object.get(data.limits, input.principal.name, {})}
`

func TestLoadDir(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"authz.rego":            dataPolicy,
		"authz_test.rego":       "package tether.authz_test\n",
		"lib/more.rego":         "package tether.lib\n",
		"data.json":             `{"tether": {"allowed": ["alice"]}}`,
		"limits/data.yaml":      "alice:\n  max_duration: 30m\n",
		"README.md":             "not loaded",
		"fixtures/input.json":   "{}",
		".git/config.rego":      "not loaded",
		"lib/data.yml":          "x: 1\n",
		"lib/notes/data.txt":    "not loaded",
		"lib/notes/extra.rego~": "not loaded",
	})
	b, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for p := range b.Files {
		got = append(got, p)
	}
	want := "authz.rego authz_test.rego data.json lib/data.yml lib/more.rego limits/data.yaml"
	if g := strings.Join(sorted(got), " "); g != want {
		t.Errorf("LoadDir files = %s, want %s", g, want)
	}

	e, err := Compile(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision() != b.Revision() {
		t.Errorf("Evaluator.Revision = %s, want the bundle's %s", e.Revision(), b.Revision())
	}
	d, err := e.Decide(context.Background(), Input{Principal: alice, Action: "WhoAmI"})
	if err != nil || !d.Allow || d.Limits.MaxDuration.String() != "30m0s" {
		t.Errorf("Decide(alice) = %+v, %v; want allow with max_duration 30m (data from limits/data.yaml)", d, err)
	}
	if d, _ := e.Decide(context.Background(), Input{Principal: bob, Action: "WhoAmI"}); d.Allow {
		t.Errorf("Decide(bob) = %+v, want deny", d)
	}
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestBundleRevision(t *testing.T) {
	a := bundleOf(map[string]string{"a.rego": "x", "b/data.json": "{}"})
	if got := a.Revision(); len(got) != 16 {
		t.Errorf("Revision = %q, want 16 hex digits", got)
	}
	same := bundleOf(map[string]string{"b/data.json": "{}", "a.rego": "x"})
	if a.Revision() != same.Revision() {
		t.Error("Revision depends on map order")
	}
	for _, other := range []Bundle{
		bundleOf(map[string]string{"a.rego": "y", "b/data.json": "{}"}),
		bundleOf(map[string]string{"a.rego": "x", "c/data.json": "{}"}),
		bundleOf(map[string]string{"a.rego": "x"}),
		bundleOf(map[string]string{"a.regox": "", "b/data.json": "{}"}),
	} {
		if other.Revision() == a.Revision() {
			t.Errorf("bundles %v and %v have the same revision", other.Files, a.Files)
		}
	}
}

func TestBundleCheck(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // substring of the error
	}{
		{"absolute", map[string]string{"/etc/a.rego": ""}, `"/etc/a.rego": not a relative path`},
		{"dot dot", map[string]string{"../a.rego": ""}, `"../a.rego": not a clean`},
		{"inner dot dot", map[string]string{"a/../../b.rego": ""}, "not a clean"},
		{"unclean", map[string]string{"a//b.rego": ""}, "not a clean"},
		{"dot", map[string]string{"./a.rego": ""}, "not a clean"},
		{"backslash", map[string]string{`a\b.rego`: ""}, "not a clean"},
		{"empty", map[string]string{"": ""}, "not a relative path"},
		{"other file", map[string]string{"a.rego": "", "run.sh": ""}, `"run.sh": not a .rego file or a data document`},
		{"other json", map[string]string{"input.json": ""}, `"input.json": a data document must be named data.json`},
		{"too big", map[string]string{"a.rego": strings.Repeat("#", MaxBundleBytes), "b.rego": "#"}, "more than 1048576"},
	}
	many := map[string]string{}
	for i := range MaxBundleFiles + 1 {
		many[fmt.Sprintf("m%d.rego", i)] = ""
	}
	tests = append(tests, struct {
		name  string
		files map[string]string
		want  string
	}{"too many", many, "201 files, more than 200"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bundleOf(tt.files)
			err := b.Check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want an error containing %q", err, tt.want)
			}
			if _, err := Compile(context.Background(), b); err == nil {
				t.Error("Compile accepted the bundle")
			}
			if err := Test(context.Background(), b); err == nil {
				t.Error("Test accepted the bundle")
			}
		})
	}
	ok := bundleOf(map[string]string{"a.rego": "", "x/y/data.yml": "", "data.json": "", "z/data.yaml": ""})
	if err := ok.Check(); err != nil {
		t.Errorf("Check(good bundle) = %v", err)
	}
}

func TestLoadDirLimits(t *testing.T) {
	files := map[string]string{}
	for i := range MaxBundleFiles + 1 {
		files[fmt.Sprintf("m%03d.rego", i)] = ""
	}
	if _, err := LoadDir(writeTree(t, files)); err == nil || !strings.Contains(err.Error(), "more than 200 files") {
		t.Errorf("LoadDir(201 files) = %v, want an error", err)
	}
	big := writeTree(t, map[string]string{"a.rego": strings.Repeat("#", MaxBundleBytes+1)})
	if _, err := LoadDir(big); err == nil || !strings.Contains(err.Error(), "more than 1048576 bytes") {
		t.Errorf("LoadDir(too big) = %v, want an error", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "json syntax",
			files: map[string]string{"authz.rego": minimalPolicy, "tether/data.json": "{\n  \"a\": 1,\n  \"b\": [1, 2,]\n}\n"},
			want:  []string{"load policy data tether/data.json: line 3", "invalid character ']'"},
		},
		{
			name:  "json truncated",
			files: map[string]string{"authz.rego": minimalPolicy, "data.json": "{\n\"a\": [\n"},
			want:  []string{"data.json: line 3: unexpected end of JSON"},
		},
		{
			name:  "json trailing",
			files: map[string]string{"authz.rego": minimalPolicy, "data.json": "{}\n{}"},
			want:  []string{"data.json: line 2: data after the document"},
		},
		{
			name:  "json not object",
			files: map[string]string{"authz.rego": minimalPolicy, "data.json": "[1]"},
			want:  []string{"data.json: the document is an array, not an object"},
		},
		{
			name:  "yaml syntax",
			files: map[string]string{"authz.rego": minimalPolicy, "x/data.yaml": "a: 1\nb: [1, 2\nc: 3\n"},
			want:  []string{"load policy data x/data.yaml", "line"},
		},
		{
			name:  "data conflict",
			files: map[string]string{"authz.rego": minimalPolicy, "data.json": `{"a": {"b": 1}}`, "a/data.json": `{"b": 2}`},
			want:  []string{"load policy data data.json: data.a.b is already set by a/data.json"},
		},
		{
			name:  "data conflict with a directory",
			files: map[string]string{"authz.rego": minimalPolicy, "data.json": `{"a": 1}`, "a/data.json": `{"b": 2}`},
			want:  []string{"load policy data data.json: data.a is already set by a/data.json"},
		},
		{
			name:  "parse error",
			files: map[string]string{"lib/authz.rego": "package tether.authz\n\ndecision := {\n"},
			want:  []string{"parse policy bundle: lib/authz.rego:4: rego_parse_error"},
		},
		{
			name:  "compile error",
			files: map[string]string{"authz.rego": "package tether.authz\n\ndecision := {\"allow\": nope}\n"},
			want:  []string{"compile policy bundle: authz.rego:3: rego_unsafe_var_error"},
		},
		{
			name:  "no decision",
			files: map[string]string{"authz.rego": "package tether.other\n\ndecision := 1\n"},
			want:  []string{"no rule defines data.tether.authz.decision"},
		},
		{
			name:  "only tests",
			files: map[string]string{"authz_test.rego": "package tether.authz_test\n", "data.json": "{}"},
			want:  []string{"no *.rego files"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(context.Background(), bundleOf(tt.files))
			if err == nil {
				t.Fatalf("Compile = %v, want an error", e)
			}
			t.Logf("Compile error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Compile error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCompileWithData(t *testing.T) {
	b := bundleOf(map[string]string{
		"authz.rego": dataPolicy,
		"data.json":  `{"tether": {"allowed": ["alice"], "keep": true}, "limits": {"alice": {"max_duration": "1h"}}}`,
	})
	e, err := Compile(context.Background(), b, WithData(map[string]any{
		"tether": map[string]any{"allowed": []string{"bob"}},
		"limits": map[string]any{"bob": map[string]any{"idle_timeout": "5m"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Decide(context.Background(), Input{Principal: bob, Action: "WhoAmI"})
	if err != nil || !got.Allow || got.Limits.IdleTimeout.String() != "5m0s" {
		t.Errorf("Decide(bob) = %+v, %v; want allow with WithData's list and limits", got, err)
	}
	if got, _ := e.Decide(context.Background(), Input{Principal: alice, Action: "WhoAmI"}); got.Allow {
		t.Errorf("Decide(alice) = %+v; WithData's list replaces the bundle's", got)
	}
	if e.Revision() != b.Revision() {
		t.Error("WithData changed the revision")
	}
}

func TestShippedBundle(t *testing.T) {
	b := Shipped()
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"authz.rego", "authz_test.rego", "data.json", "deny.rego", "oncall_test.rego"} {
		if _, ok := b.Files[p]; !ok {
			t.Errorf("shipped bundle has no %s", p)
		}
	}
	e := newEvaluator(t)
	if e.Revision() != b.Revision() {
		t.Errorf("New().Revision = %s, want the shipped bundle's %s", e.Revision(), b.Revision())
	}
	// The shipped bundle passes its own tests, as a push of it would.
	if err := Test(context.Background(), b); err != nil {
		t.Errorf("Test(shipped) = %v", err)
	}
	// The directory is the same bundle as the embedded one.
	dir, err := LoadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if dir.Revision() != b.Revision() {
		t.Errorf("LoadDir(.) revision %s differs from the embedded %s", dir.Revision(), b.Revision())
	}
}

func TestBundleTest(t *testing.T) {
	policy := "package tether.authz\n\ndecision := {\"allow\": input.action in data.tether.ok}\n"
	tests := []struct {
		name  string
		tests string
		want  []string // substrings of the error; none for a pass
	}{
		{name: "pass", tests: "package tether.authz_test\n\nimport data.tether.authz\n\ntest_ok if authz.decision.allow with input as {\"action\": \"WhoAmI\"}\n"},
		{
			name:  "fail",
			tests: "package tether.authz_test\n\nimport data.tether.authz\n\ntest_ok if authz.decision.allow with input as {\"action\": \"WhoAmI\"}\n\ntest_bad if {\n\tauthz.decision.allow with input as {\"action\": \"AddUser\"}\n}\n\ntest_bad2 if false\n",
			want:  []string{"policy tests failed (2 of 3)", "lib/authz_test.rego:7: test_bad: failed", "lib/authz_test.rego:11: test_bad2: failed"},
		},
		{
			name:  "error",
			tests: "package tether.authz_test\n\nf(_) := 1\n\nf(_) := 2\n\ntest_err if f(1)\n",
			want:  []string{"lib/authz_test.rego:7: test_err: error", "eval_conflict_error"},
		},
		{
			name:  "does not compile",
			tests: "package tether.authz_test\n\ntest_x if no_such_rule\n",
			want:  []string{"compile policy tests: lib/authz_test.rego:3: rego_unsafe_var_error"},
		},
		{name: "no tests", tests: "package tether.authz_test\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bundleOf(map[string]string{
				"authz.rego":          policy,
				"lib/authz_test.rego": tt.tests,
				"tether/data.json":    `{"ok": ["WhoAmI"]}`,
			})
			err := Test(context.Background(), b)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Test = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Test = nil, want an error")
			}
			t.Logf("Test error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Test error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewFromDirIsRecursive(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"authz.rego":           "package tether.authz\n\ndecision := {\"allow\": data.tether.lib.open}\n",
		"lib/lib.rego":         "package tether.lib\n\nopen := input.action in data.tether.lib.actions\n",
		"lib/data.json":        "{}",
		"tether/lib/data.json": `{"actions": ["WhoAmI"]}`,
	})
	e := newEvaluator(t, WithDir(dir))
	for action, want := range map[string]bool{api.VerbWhoAmI: true, api.VerbAddUser: false} {
		got, err := e.Decide(context.Background(), Input{Principal: bob, Action: action})
		if err != nil || got.Allow != want {
			t.Errorf("Decide(%s) = %+v, %v; want allow %v", action, got, err, want)
		}
	}
}

// A bundle whose data the library finds fault with is refused with every problem named,
// and a bundle of one's own that defines no config_errors is not checked.
func TestCompileChecksLibraryData(t *testing.T) {
	b := Shipped()
	b.Files["data.json"] = []byte(`{"tether": {"target_grants": [{"group": ["dev"], "actions": ["StartSesion"]}]}}`)
	_, err := Compile(context.Background(), b)
	if err == nil {
		t.Fatal("bundle with bad data compiled")
	}
	for _, want := range []string{"policy data of bundle is not valid", `target_grants[0]: unknown key "group"`, `unknown action "StartSesion"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	own := Bundle{Files: map[string][]byte{
		"authz.rego": []byte("package tether.authz\n\ndecision := {\"allow\": false}\n"),
		"data.json":  []byte(`{"tether": {"target_grants": "whatever"}}`),
	}}
	if _, err := Compile(context.Background(), own); err != nil {
		t.Fatalf("own bundle: %v", err)
	}
}
