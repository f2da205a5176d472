package policies

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// decisionQuery is the decision every policy must define: an object
// {"allow": bool, "reasons": [string], "obligations": {...}}.
const decisionQuery = "data.tether.authz.decision"

// shipped holds the shipped bundle: the policy library, its tests and its data.
//
//go:embed *.rego data.json
var shipped embed.FS

// Shipped returns the shipped policy bundle.
func Shipped() Bundle {
	b, err := loadFS(shipped, "policies")
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return b
}

// Evaluator decides requests against a compiled policy. It is safe for concurrent use.
type Evaluator struct {
	query rego.PreparedEvalQuery
	// allowPartial partially evaluates decision.allow with the item of a list request
	// unknown (see ForItems); store is the data it and its residues read.
	allowPartial *rego.PreparedPartialQuery
	store        storage.Store
	revision     string
	adminGroups  []string
}

// AdminGroups are the groups the policy names as administrators
// (data.tether.authz.admin_groups, else data.tether.admin_groups): their members get the
// NATS-level rights of an admin (reading lifecycle events live). A policy that names none
// has no admins at that level; every API verb still asks the policy itself.
func (e *Evaluator) AdminGroups() []string { return slices.Clone(e.adminGroups) }

// Revision is the revision of the bundle the evaluator was compiled from (see
// Bundle.Revision).
func (e *Evaluator) Revision() string { return e.revision }

// Option configures New and Compile.
type Option func(*config)

type config struct {
	dir  string
	data map[string]any
}

// WithDir makes New load the bundle in dir (see LoadDir) instead of the shipped one.
// Compile, which is handed its bundle, ignores it.
func WithDir(dir string) Option {
	return func(c *config) { c.dir = dir }
}

// WithData overlays data on the bundle's data documents: objects are merged, and any
// other value of data replaces the bundle's at the same path. The revision stays the
// bundle's.
func WithData(data map[string]any) Option {
	return func(c *config) { c.data = data }
}

// New loads, compiles and prepares a policy: the shipped bundle unless WithDir says
// otherwise. A policy that fails to parse or compile is an error naming the file and line
// of each problem.
func New(ctx context.Context, opts ...Option) (*Evaluator, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	b, prefix := Bundle{}, "policies"
	if c.dir != "" {
		var err error
		if b, err = LoadDir(c.dir); err != nil {
			return nil, err
		}
		prefix = c.dir
	} else {
		b = Shipped()
	}
	return compile(ctx, b, prefix, c)
}

// Compile checks, compiles and prepares bundle b: its modules but the *_test.rego ones,
// and its data documents. Problems are errors naming the file and line of each. A bundle
// must define data.tether.authz.decision. Compile does not run the bundle's tests: Test
// does.
func Compile(ctx context.Context, b Bundle, opts ...Option) (*Evaluator, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return compile(ctx, b, "", c)
}

func compile(ctx context.Context, b Bundle, prefix string, c config) (*Evaluator, error) {
	where := cmp.Or(prefix, "bundle")
	if err := b.Check(); err != nil {
		return nil, err
	}
	name := filename(prefix)
	modules, err := b.modules(name, false)
	if err != nil {
		return nil, err
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("load policy %s: no *.rego files", where)
	}
	data, err := b.data(name)
	if err != nil {
		return nil, err
	}
	if c.data != nil {
		extra, err := roundTrip(c.data)
		if err != nil {
			return nil, err
		}
		overlay(data, extra)
	}

	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile policy %s: %w", where, located(compiler.Errors))
	}
	if rules := compiler.GetRulesForVirtualDocument(ast.MustParseRef(decisionQuery)); len(rules) == 0 {
		return nil, fmt.Errorf("compile policy %s: no rule defines %s", where, decisionQuery)
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	if err := checkConfig(ctx, compiler, store, where); err != nil {
		return nil, err
	}
	pq, err := rego.New(
		rego.Query(decisionQuery),
		rego.Compiler(compiler),
		rego.Store(store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare policy %s: %w", where, err)
	}
	admins, err := adminGroups(ctx, compiler, store)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", where, err)
	}
	ev := &Evaluator{query: pq, revision: b.Revision(), adminGroups: admins, store: store}
	if pp, err := rego.New(
		rego.Query(decisionQuery+".allow"),
		rego.Compiler(compiler),
		rego.Store(store),
		rego.Unknowns(itemUnknowns),
	).PrepareForPartial(ctx); err == nil {
		ev.allowPartial = &pp // without it, lists are decided item by item
	}
	return ev, nil
}

// adminGroupQueries are where a policy names its admin groups, in order of preference.
var adminGroupQueries = []string{"data.tether.authz.admin_groups", "data.tether.admin_groups"}

// adminGroups reads the policy's admin groups once, when it is compiled.
func adminGroups(ctx context.Context, compiler *ast.Compiler, store storage.Store) ([]string, error) {
	for _, q := range adminGroupQueries {
		rs, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store)).Eval(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", q, err)
		}
		if len(rs) == 0 || len(rs[0].Expressions) == 0 {
			continue // undefined here
		}
		list, ok := rs[0].Expressions[0].Value.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is %T, not a list of group names", q, rs[0].Expressions[0].Value)
		}
		var groups []string
		for _, g := range list {
			name, ok := g.(string)
			if !ok {
				return nil, fmt.Errorf("%s holds %v, not a group name", q, g)
			}
			groups = append(groups, name)
		}
		return groups, nil
	}
	return nil, nil
}

// configQuery is the set of problems a policy finds in its own data, as public messages;
// a policy need not define it. The shipped library does (config.rego), so that a typo
// in data.json refuses the bundle instead of silently granting nothing.
const configQuery = "data.tether.authz.config_errors"

// checkConfig refuses a policy whose configQuery finds problems in its data.
func checkConfig(ctx context.Context, compiler *ast.Compiler, store storage.Store, where string) error {
	if rules := compiler.GetRulesForVirtualDocument(ast.MustParseRef(configQuery)); len(rules) == 0 {
		return nil
	}
	rs, err := rego.New(rego.Query(configQuery), rego.Compiler(compiler), rego.Store(store)).Eval(ctx)
	if err != nil {
		return fmt.Errorf("check policy data of %s: %w", where, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil
	}
	list, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return fmt.Errorf("check policy data of %s: %s is %T, not a set", where, configQuery, rs[0].Expressions[0].Value)
	}
	if len(list) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(list))
	for _, v := range list {
		msgs = append(msgs, fmt.Sprint(v))
	}
	slices.Sort(msgs)
	return fmt.Errorf("policy data of %s is not valid:\n%s", where, strings.Join(msgs, "\n"))
}

// roundTrip passes data through JSON, so that a value JSON cannot hold is an error here
// rather than a panic in the store.
func roundTrip(data map[string]any) (map[string]any, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode policy data: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode policy data: %w", err)
	}
	return out, nil
}

// overlay merges src into dst: objects recursively, anything else replacing.
func overlay(dst, src map[string]any) {
	for k, v := range src {
		dm, ok1 := dst[k].(map[string]any)
		sm, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			overlay(dm, sm)
			continue
		}
		dst[k] = v
	}
}

// modules parses the bundle's modules, with or without the *_test.rego ones. Modules are
// keyed and located by name(path), so errors point at the file.
func (b Bundle) modules(name func(string) string, tests bool) (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	var errs ast.Errors
	for _, p := range slices.Sorted(maps.Keys(b.Files)) {
		if !strings.HasSuffix(p, ".rego") || (isTestFile(p) && !tests) {
			continue
		}
		file := name(p)
		m, err := ast.ParseModuleWithOpts(file, string(b.Files[p]), ast.ParserOptions{RegoVersion: ast.RegoV1})
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
		return nil, fmt.Errorf("parse policy %s: %w", cmp.Or(name(""), "bundle"), located(errs))
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
