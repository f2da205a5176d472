package logkey_test

import (
	"go/ast"
	"go/types"
	"testing"

	"golang.org/x/tools/go/packages"
)

// TestOneVocabulary type-checks every package of the module and fails on a log/slog call
// whose attribute key is not one of logkey's names: a key written as a literal is how one
// field came to be logged as session, session_id and sid.
func TestOneVocabulary(t *testing.T) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:  "../..",
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		t.Fatal("the module does not type-check")
	}
	calls := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				keys, ok := slogKeys(p.TypesInfo, call)
				if ok {
					calls++
				}
				for _, k := range keys {
					if p.TypesInfo.Types[k].Value == nil {
						continue // a key computed at run time: not a spelling to check
					}
					if !fromLogkey(p.TypesInfo, k) {
						t.Errorf("%s: log key %s is not a logkey constant", p.Fset.Position(k.Pos()), types.ExprString(k))
					}
				}
				return true
			})
		}
	}
	if calls < 100 {
		t.Fatalf("found %d log/slog calls in the module: the scan is not finding them", calls)
	}
}

// slogKeys is the attribute keys of a call to log/slog, and whether it is one.
func slogKeys(info *types.Info, call *ast.CallExpr) ([]ast.Expr, bool) {
	var id *ast.Ident
	switch fun := call.Fun.(type) {
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.Ident:
		id = fun
	default:
		return nil, false
	}
	fn, ok := info.Uses[id].(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "log/slog" {
		return nil, false
	}
	skip := 0 // arguments before the key-value pairs
	switch fn.Name() {
	case "Debug", "Info", "Warn", "Error":
		skip = 1
	case "DebugContext", "InfoContext", "WarnContext", "ErrorContext":
		skip = 2
	case "Log":
		skip = 3
	case "With":
	case "String", "Int", "Int64", "Uint64", "Float64", "Bool", "Time", "Duration", "Any", "Group":
		return call.Args[:1], true
	default:
		return nil, true
	}
	if len(call.Args) < skip || call.Ellipsis.IsValid() {
		return nil, true
	}
	var keys []ast.Expr
	rest := call.Args[skip:]
	for i := 0; i < len(rest); i++ {
		// A string in a key's place is a key followed by its value; anything else is an Attr.
		if b, ok := info.Types[rest[i]].Type.Underlying().(*types.Basic); ok && b.Info()&types.IsString != 0 {
			keys = append(keys, rest[i])
			i++
		}
	}
	return keys, true
}

// fromLogkey reports whether k names a constant of this package.
func fromLogkey(info *types.Info, k ast.Expr) bool {
	sel, ok := k.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	c, ok := info.Uses[sel.Sel].(*types.Const)
	return ok && c.Pkg() != nil && c.Pkg().Path() == "github.com/tetherhq/tether/streams/logkey"
}
