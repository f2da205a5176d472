package policies

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// decisionQuery is the decision every policy must define: an object
// {"allow": bool, "reasons": [string], "obligations": {...}}.
const decisionQuery = "data.tether.authz.decision"

// shipped holds the shipped policy. The *_test.rego files come along and are skipped
// when loading.
//
//go:embed *.rego
var shipped embed.FS

// Evaluator decides requests against a compiled policy. It is safe for concurrent use.
type Evaluator struct {
	query rego.PreparedEvalQuery
}

// Option configures New.
type Option func(*config)

type config struct {
	fsys   fs.FS
	prefix string // how error messages name the directory of fsys
	data   map[string]any
}

// WithDir loads the policy from the *.rego files (not *_test.rego) directly in dir
// instead of the shipped policy.
func WithDir(dir string) Option {
	return func(c *config) {
		c.fsys = os.DirFS(dir)
		c.prefix = dir
	}
}

// WithData makes data the base document the policy sees under data.
func WithData(data map[string]any) Option {
	return func(c *config) { c.data = data }
}

// New loads, compiles and prepares a policy: the shipped one unless WithDir says
// otherwise. A policy that fails to parse or compile is an error naming the file and line
// of each problem.
func New(ctx context.Context, opts ...Option) (*Evaluator, error) {
	c := config{fsys: shipped, prefix: "policies"}
	for _, o := range opts {
		o(&c)
	}

	modules, err := parseModules(c.fsys, c.prefix)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile policy %s: %w", c.prefix, located(compiler.Errors))
	}
	if rules := compiler.GetRulesForVirtualDocument(ast.MustParseRef(decisionQuery)); len(rules) == 0 {
		return nil, fmt.Errorf("compile policy %s: no rule defines %s", c.prefix, decisionQuery)
	}

	ropts := []func(*rego.Rego){rego.Query(decisionQuery), rego.Compiler(compiler)}
	if c.data != nil {
		// Round-trip through JSON so a value JSON cannot hold is an error here, not a
		// panic in the store.
		b, err := json.Marshal(c.data)
		if err != nil {
			return nil, fmt.Errorf("encode policy data: %w", err)
		}
		var data map[string]any
		if err := json.Unmarshal(b, &data); err != nil {
			return nil, fmt.Errorf("decode policy data: %w", err)
		}
		ropts = append(ropts, rego.Store(inmem.NewFromObject(data)))
	}
	pq, err := rego.New(ropts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare policy %s: %w", c.prefix, err)
	}
	return &Evaluator{query: pq}, nil
}

// parseModules parses every *.rego file but *_test.rego at the top of fsys. Modules are
// keyed and located by prefix/name, so errors point at the file.
func parseModules(fsys fs.FS, prefix string) (map[string]*ast.Module, error) {
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, fmt.Errorf("list policies in %s: %w", prefix, err)
	}
	modules := make(map[string]*ast.Module, len(names))
	var errs ast.Errors
	for _, name := range names {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read policy: %w", err)
		}
		file := filepath.Join(prefix, name)
		m, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			var astErrs ast.Errors
			if !errors.As(err, &astErrs) {
				return nil, fmt.Errorf("parse policy %s: %w", file, err)
			}
			errs = append(errs, astErrs...)
			continue
		}
		modules[file] = m
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parse policy %s: %w", prefix, located(errs))
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("load policy %s: no *.rego files", prefix)
	}
	return modules, nil
}

// locatedErrors are parse or compile errors with a plain message: one
// "file:line: code: message" per line, without ast.Errors' "N errors occurred" preamble.
type locatedErrors ast.Errors

// located sorts errs by file and line.
func located(errs ast.Errors) error {
	errs.Sort()
	return locatedErrors(errs)
}

func (errs locatedErrors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (errs locatedErrors) Unwrap() error { return ast.Errors(errs) }
