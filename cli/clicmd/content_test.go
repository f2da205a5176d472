package clicmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestReadContent(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	doc := "schemaVersion: \"1.0\"\nsessionType: Standard_Stream\n"
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abs := write("doc.yaml", []byte(doc))
	write("max.yaml", []byte(strings.Repeat("a", maxContent)))
	write("big.yaml", []byte(strings.Repeat("a", maxContent+1)))
	write("latin1.yaml", []byte("name: caf\xe9\n"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ in, want string }{
		{"file://" + abs, doc},
		{"file://doc.yaml", doc}, // relative to the working directory
		{"file://./sub/../doc.yaml", doc},
		{doc, doc},
		{"{\"schemaVersion\":\"1.0\"}", "{\"schemaVersion\":\"1.0\"}"},
	} {
		got, err := readContent("--content", tc.in)
		if err != nil || got != tc.want {
			t.Errorf("readContent(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got, err := readContent("--content", "file://max.yaml"); err != nil || len(got) != maxContent {
		t.Errorf("a file of exactly %d bytes: %d bytes, %v", maxContent, len(got), err)
	}

	for _, tc := range []struct{ in, want string }{
		{"", "--content is required"},
		{"file://", "--content file://: no file name"},
		{"file://missing.yaml", "--content file://missing.yaml: no such file"},
		{"file://big.yaml", "--content file://big.yaml: 65537 bytes, more than the 65536 allowed"},
		{"file://sub", "--content file://sub: a directory, not a file"},
		{"file://latin1.yaml", "--content file://latin1.yaml: not UTF-8 text"},
		{strings.Repeat("a", maxContent+1), "--content: 65537 bytes, more than the 65536 a document may have"},
		{"\xff", "--content: not UTF-8 text"},
	} {
		_, err := readContent("--content", tc.in)
		if err == nil || err.Error() != tc.want {
			short := tc.in
			if len(short) > 40 {
				short = short[:40] + "…"
			}
			t.Errorf("readContent(%q): error %v, want %q", short, err, tc.want)
		}
	}
}

func TestDocumentFormat(t *testing.T) {
	for _, tc := range []struct{ flag, content, want string }{
		{"", "{\"schemaVersion\":\"1.0\"}", api.FormatJSON},
		{"", " \n\t{\n}", api.FormatJSON},
		{"", "schemaVersion: '1.0'\n", api.FormatYAML},
		{"", "# {not json}\n", api.FormatYAML},
		{"", "[1]", api.FormatYAML},
		{"", "", api.FormatYAML},
		{"json", "a: b", api.FormatJSON},
		{"Yaml", "{}", api.FormatYAML},
	} {
		got, err := documentFormat(tc.flag, tc.content)
		if err != nil || got != tc.want {
			t.Errorf("documentFormat(%q, %q) = %q, %v; want %q", tc.flag, tc.content, got, err, tc.want)
		}
	}
	if _, err := documentFormat("XML", ""); err == nil || err.Error() != `--document-format "XML": use YAML or JSON` {
		t.Errorf("XML: %v", err)
	}
}

func TestDocumentVersion(t *testing.T) {
	for _, ok := range []string{"", "$LATEST", "1", "42"} {
		if err := documentVersion(ok); err != nil {
			t.Errorf("documentVersion(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"0", "-1", "v2", "$DEFAULT", "1.0", "99999999999999999999"} {
		if err := documentVersion(bad); err == nil {
			t.Errorf("documentVersion(%q) accepted", bad)
		}
	}
}
