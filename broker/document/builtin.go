package document

import (
	"embed"
	"path"
	"slices"
	"strings"
)

// Builtin is one of Tether's built-in documents, its equivalents of SSM's own.
type Builtin struct {
	Name    string
	Content string // YAML
}

//go:embed builtin/*.yaml
var builtinFS embed.FS

var builtins = func() []Builtin {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		panic(err)
	}
	var out []Builtin
	for _, e := range entries {
		b, err := builtinFS.ReadFile(path.Join("builtin", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, Builtin{Name: strings.TrimSuffix(e.Name(), ".yaml"), Content: string(b)})
	}
	slices.SortFunc(out, func(a, b Builtin) int { return strings.Compare(a.Name, b.Name) })
	return out
}()

// Builtins returns the built-in documents, sorted by name.
func Builtins() []Builtin { return slices.Clone(builtins) }

// LookupBuiltin returns the built-in document called name.
func LookupBuiltin(name string) (Builtin, bool) {
	i := slices.IndexFunc(builtins, func(b Builtin) bool { return b.Name == name })
	if i < 0 {
		return Builtin{}, false
	}
	return builtins[i], true
}
