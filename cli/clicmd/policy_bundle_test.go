package clicmd

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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

func TestCollectPolicy(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"authz.rego":                "package tether.authz\n",
		"authz_test.rego":           "package tether.authz_test\n",
		"data.json":                 `{"oncall":["bob"]}`,
		"lib/helpers.rego":          "package tether.lib\n",
		"lib/deep/er/x.rego":        "package tether.x\n",
		"lib/data.yaml":             "teams: []\n",
		"teams/data.yml":            "a: 1\n",
		"README.md":                 "# policies\n",
		"lib/other.json":            "{}",
		"lib/data.yaml.bak":         "old\n",
		".git/config.rego":          "hidden dir\n",
		"lib/.cache/y.rego":         "hidden dir\n",
		".hidden.rego":              "hidden file\n",
		"notes/rego/not-policy.txt": "x\n",
	})
	// A symlink to a file inside the bundle is read; one to a directory inside is not
	// entered (its files are collected where they are).
	if err := os.Symlink("lib/helpers.rego", filepath.Join(dir, "alias.rego")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("lib", filepath.Join(dir, "liblink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangling.txt")); err != nil {
		t.Fatal(err)
	}
	got, err := collectPolicy(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.PolicyFile{
		{Path: "alias.rego", Content: "package tether.lib\n"},
		{Path: "authz.rego", Content: "package tether.authz\n"},
		{Path: "authz_test.rego", Content: "package tether.authz_test\n"},
		{Path: "data.json", Content: `{"oncall":["bob"]}`},
		{Path: "lib/data.yaml", Content: "teams: []\n"},
		{Path: "lib/deep/er/x.rego", Content: "package tether.x\n"},
		{Path: "lib/helpers.rego", Content: "package tether.lib\n"},
		{Path: "teams/data.yml", Content: "a: 1\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files:\n%v\nwant\n%v", got, want)
	}

	// The directory may itself be reached through a symlink, and be relative.
	link := filepath.Join(t.TempDir(), "policies")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if got, err := collectPolicy(link); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("through a symlink: %v, %v", got, err)
	}
	t.Chdir(dir)
	if got, err := collectPolicy("."); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("relative: %v, %v", got, err)
	}
}

func TestCollectPolicyRefused(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret.rego": "package secret\n", "etc/passwd": "root\n"})
	many := map[string]string{}
	for i := range maxPolicyFiles + 1 {
		many[fmt.Sprintf("p/%03d.rego", i)] = "package p\n"
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		setup func(dir string) error
		want  string
	}{
		{"no rego", map[string]string{"data.json": "{}", "x.txt": ""}, nil, "no .rego files"},
		{"empty", nil, nil, "no .rego files"},
		{"too many files", many, nil, fmt.Sprintf("more than %d policy files", maxPolicyFiles)},
		{"too many bytes", map[string]string{
			"a.rego": strings.Repeat("#", maxPolicyBytes/2),
			"b.rego": strings.Repeat("#", maxPolicyBytes/2+1),
		}, nil, fmt.Sprintf("the policy files add up to more than %d bytes", maxPolicyBytes)},
		{"symlinked file outside", map[string]string{"a.rego": ""}, func(dir string) error {
			return os.Symlink(filepath.Join(outside, "secret.rego"), filepath.Join(dir, "b.rego"))
		}, "b.rego: a symlink to " + outside},
		{"symlinked dir outside", map[string]string{"a.rego": ""}, func(dir string) error {
			return os.Symlink(filepath.Join(outside, "etc"), filepath.Join(dir, "etc"))
		}, "etc: a symlink to " + outside},
		{"relative symlink out", map[string]string{"sub/a.rego": ""}, func(dir string) error {
			return os.Symlink("../../", filepath.Join(dir, "sub", "up"))
		}, "outside"},
		{"dangling policy symlink", map[string]string{"a.rego": ""}, func(dir string) error {
			return os.Symlink("gone.rego", filepath.Join(dir, "b.rego"))
		}, "b.rego: "},
	} {
		dir := writeTree(t, tc.files)
		if tc.setup != nil {
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
		}
		_, err := collectPolicy(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := collectPolicy(filepath.Join(outside, "secret.rego")); err == nil || !strings.HasSuffix(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	if _, err := collectPolicy(filepath.Join(outside, "missing")); err == nil {
		t.Error("a missing directory: no error")
	}
}

func TestPolicyRequest(t *testing.T) {
	files := []api.PolicyFile{{Path: "a.rego", Content: "package a\n"}}
	req, err := policyRequest(files, api.MaxPolicyRequest)
	if err != nil || !reflect.DeepEqual(req.Files, files) {
		t.Fatalf("policyRequest = %+v, %v", req, err)
	}
	// The limit is on the request as sent, escapes and all.
	_, err = policyRequest([]api.PolicyFile{{Path: "a.rego", Content: strings.Repeat("<", 100)}}, 500)
	if err == nil || !strings.Contains(err.Error(), "more than the 500 the broker accepts") {
		t.Errorf("oversized request: %v", err)
	}
}
