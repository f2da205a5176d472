package policies

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/util"
)

// Bundle limits: a bundle travels in one API request (api.MaxPolicyRequest).
const (
	MaxBundleBytes = 1 << 20 // total size of all files
	MaxBundleFiles = 200
)

// Bundle is a policy bundle: Rego modules and data documents, as OPA lays out a bundle.
// Files maps slash-separated paths relative to the bundle's root to their contents:
//
//   - *.rego: a module; *_test.rego modules hold Rego tests and are only loaded by Test.
//   - data.json, data.yaml, data.yml: a data document, placed at the path of its
//     directory (a/b/data.json is data.a.b).
type Bundle struct {
	Files map[string][]byte
}

// isDataFile reports whether the file at p is a data document.
func isDataFile(p string) bool {
	switch path.Base(p) {
	case "data.json", "data.yaml", "data.yml":
		return true
	}
	return false
}

func isTestFile(p string) bool { return strings.HasSuffix(p, "_test.rego") }

// LoadDir reads a bundle from dir: every *.rego file and data document in it and its
// subdirectories. Directories whose names start with "." are skipped, as are all other
// files.
func LoadDir(dir string) (Bundle, error) {
	return loadFS(os.DirFS(dir), dir)
}

// loadFS is LoadDir on fsys, naming it name in errors.
func loadFS(fsys fs.FS, name string) (Bundle, error) {
	b := Bundle{Files: map[string][]byte{}}
	var size int
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".rego") && !isDataFile(p) {
			return nil
		}
		if len(b.Files) == MaxBundleFiles {
			return fmt.Errorf("more than %d files", MaxBundleFiles)
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if size += len(src); size > MaxBundleBytes {
			return fmt.Errorf("more than %d bytes", MaxBundleBytes)
		}
		b.Files[p] = src
		return nil
	})
	if err != nil {
		return Bundle{}, fmt.Errorf("load policy bundle %s: %w", name, err)
	}
	return b, nil
}

// Revision identifies the bundle's contents: the first 16 hex digits of a SHA-256 over
// its files' paths and contents, in path order.
func (b Bundle) Revision() string {
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(b.Files)) {
		// Length-prefixed, so that no two bundles hash the same stream.
		fmt.Fprintf(h, "%d:%s%d:", len(p), p, len(b.Files[p]))
		h.Write(b.Files[p])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Check checks the bundle's shape: its size, the number of its files and their paths.
// Compile and Test check it too.
func (b Bundle) Check() error {
	if len(b.Files) > MaxBundleFiles {
		return fmt.Errorf("policy bundle has %d files, more than %d", len(b.Files), MaxBundleFiles)
	}
	var size int
	for _, p := range slices.Sorted(maps.Keys(b.Files)) {
		if err := checkPath(p); err != nil {
			return fmt.Errorf("policy bundle file %q: %w", p, err)
		}
		size += len(b.Files[p])
	}
	if size > MaxBundleBytes {
		return fmt.Errorf("policy bundle is %d bytes, more than %d", size, MaxBundleBytes)
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case p == "" || strings.HasPrefix(p, "/"):
		return errors.New("not a relative path")
	case strings.Contains(p, `\`) || path.Clean(p) != p || slices.Contains(strings.Split(p, "/"), ".."):
		return errors.New("not a clean slash-separated path")
	case strings.HasSuffix(p, ".rego"):
		return nil
	case isDataFile(p):
		return nil
	case strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml"):
		return errors.New("a data document must be named data.json, data.yaml or data.yml")
	}
	return errors.New("not a .rego file or a data document")
}

// data merges the bundle's data documents into one base document, each at the path of
// its directory. name places the files in error messages.
func (b Bundle) data(name func(string) string) (map[string]any, error) {
	root := map[string]any{}
	from := map[string]string{} // a data path (a/b) to the file that set it, for conflicts
	for _, p := range slices.Sorted(maps.Keys(b.Files)) {
		if !isDataFile(p) {
			continue
		}
		doc, err := parseData(p, b.Files[p])
		if err != nil {
			return nil, fmt.Errorf("load policy data %s: %w", name(p), err)
		}
		// Walk down to the document's directory, making objects on the way.
		at := root
		var keys []string
		if dir := path.Dir(p); dir != "." {
			keys = strings.Split(dir, "/")
		}
		for i, k := range keys {
			next, ok := at[k].(map[string]any)
			if !ok {
				if _, taken := at[k]; taken {
					return nil, fmt.Errorf("load policy data %s: data.%s is already set by %s", name(p), strings.Join(keys[:i+1], "."), name(from[strings.Join(keys[:i+1], "/")]))
				}
				next = map[string]any{}
				at[k] = next
				from[strings.Join(keys[:i+1], "/")] = p
			}
			at = next
		}
		if err := merge(at, doc, keys, from, p, name); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// merge copies src into dst, recursing into objects both have; any other key both have is
// a conflict.
func merge(dst, src map[string]any, at []string, from map[string]string, file string, name func(string) string) error {
	for k, v := range src {
		keys := append(slices.Clip(at), k)
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			from[strings.Join(keys, "/")] = file
			continue
		}
		om, ok1 := old.(map[string]any)
		vm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("load policy data %s: data.%s is already set by %s", name(file), strings.Join(keys, "."), name(from[strings.Join(keys, "/")]))
		}
		if err := merge(om, vm, keys, from, file, name); err != nil {
			return err
		}
	}
	return nil
}

// parseData decodes one data document, which must be an object.
func parseData(p string, src []byte) (map[string]any, error) {
	var v any
	if strings.HasSuffix(p, ".json") {
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, jsonError(src, err, dec.InputOffset())
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("line %d: data after the document", lineAt(src, dec.InputOffset()))
		}
	} else if err := util.Unmarshal(src, &v); err != nil {
		// The YAML decoder's errors name the line.
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is %s, not an object", typeName(v))
	}
	return m, nil
}

// jsonError places a JSON decoding error at its line.
func jsonError(src []byte, err error, offset int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("line %d: unexpected end of JSON", lineAt(src, int64(len(src))))
	}
	return fmt.Errorf("line %d (offset %d): %w", lineAt(src, offset), offset, err)
}

func lineAt(src []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(src)))
	return 1 + bytes.Count(src[:offset], []byte("\n"))
}

// filename is how errors name the bundle file at p: joined to prefix when there is one
// (the directory a bundle was loaded from, say).
func filename(prefix string) func(string) string {
	return func(p string) string {
		if prefix == "" {
			return p
		}
		return filepath.Join(prefix, filepath.FromSlash(p))
	}
}
