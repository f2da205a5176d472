package deptest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tetherhq/tether"

// pkg is what `go list -json` says of a package, as far as the rules need.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// list runs `go list -json -deps` on patterns (for the host's GOOS/GOARCH, without test
// files) and returns every package named or depended on, by import path.
func list(t *testing.T, patterns ...string) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json", "-deps"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", patterns, err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// rule says that no package under from may depend (directly or not) on a package under
// any of banned, and why.
type rule struct {
	from   string
	banned []string
	why    string
}

var rules = []rule{
	{
		from:   module + "/streams",
		banned: []string{module + "/broker", module + "/agent", module + "/cli"},
		why:    "streams/ holds the contract and the workers every binary shares: it sits below them",
	},
	{
		from:   module + "/agent",
		banned: []string{module + "/broker", module + "/cli"},
		why:    "the agent runs on every managed node: it speaks the contract (streams/wire), and knows nothing of how the broker works inside",
	},
	{
		from:   module + "/cli",
		banned: []string{module + "/broker", module + "/agent"},
		why:    "the CLI speaks the contract (streams/wire); a change inside the broker must not rebuild or break it",
	},
	{
		from:   module + "/policies",
		banned: []string{module + "/broker", module + "/agent", module + "/cli"},
		why:    "the policy evaluator decides on inputs it is given; who asks is the broker's business",
	},
	{
		from: module + "/agent/cmd/tether-agent",
		banned: []string{
			"github.com/nats-io/nats-server",
			"github.com/open-policy-agent/opa",
			"github.com/minio/minio-go",
			"github.com/prometheus/client_golang",
		},
		why: "the agent binary goes onto every managed node: it links no NATS server, no policy engine, no object store client and no metrics server (size, attack surface, and a CVE in one of them is not every node's)",
	},
}

func TestRules(t *testing.T) {
	pkgs := list(t, "./../../...")
	for _, r := range rules {
		for _, p := range pkgs {
			if !under(p.ImportPath, r.from) {
				continue
			}
			for _, dep := range p.Deps {
				for _, b := range r.banned {
					if under(dep, b) {
						t.Errorf("%s depends on %s: %s", p.ImportPath, dep, r.why)
					}
				}
			}
		}
	}
}

// The contract imports only the standard library, nats.go and itself: every binary links
// it, and a newcomer reads it without reading anything else.
func TestWireImportsOnlyStdlibAndNATS(t *testing.T) {
	pkgs := list(t, "./../../streams/wire/...")
	allowed := func(path string) bool {
		return under(path, module+"/streams/wire") || under(path, "github.com/nats-io/nats.go")
	}
	n := 0
	for _, p := range pkgs {
		if !under(p.ImportPath, module+"/streams/wire") {
			continue
		}
		n++
		for _, imp := range p.Imports {
			if pkgs[imp].Standard || allowed(imp) {
				continue
			}
			t.Errorf("%s imports %s: the contract imports only the standard library and nats.go", p.ImportPath, imp)
		}
	}
	if n < 4 {
		t.Fatalf("found %d packages under streams/wire; want api, subjects, frame, flow at least", n)
	}
}

// The rules are checked against something: a rule whose from matches no package would
// pass whatever happens.
func TestRulesMatchPackages(t *testing.T) {
	pkgs := list(t, "./../../...")
	for _, r := range rules {
		found := false
		for path := range pkgs {
			found = found || under(path, r.from)
		}
		if !found {
			t.Errorf("rule for %s matches no package", r.from)
		}
	}
}
