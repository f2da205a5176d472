package document

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The differential check. A commands template's script never holds a value: each
// placeholder becomes "${N}" (or ${N}, '"${N}"'), so the script cannot depend on the
// values, and FuzzResolve checks that it does not. What the check below tests is the
// analysis behind that quoting: the template is rendered with the values pasted in,
// each quoted by a few lines of code independent of lex for the context lex found,
// and the pasted rendering is parsed. If lex misjudged a context (took a single-quoted
// placeholder for a bare one, say), a hostile value such as "'; id; '" would end its
// quotes and add a command, and the rendering's shape (see shape: statements,
// commands, words and the kinds of their parts) would differ from the shape with
// benign values. The real script, with its "${N}" references, must have that same
// shape too.

// hostile are values that would change a script's structure if they were pasted into
// it in the wrong quoting.
var hostile = []string{
	"$(touch x)", "`id`", "'; rm -rf /; '", `"; id; "`, `"`, `'`, `\`, `\'`, `\"`, "a\nid", "\n", "x\n",
	"${IFS}", "$IFS", "$HOME", "$((1+1))", "${x:=y}", "*", "/*", "?", "[a]", "{a,b}", "~", "~root",
	"; id", "| id", "& id", "&& id", "|| id", "> x", "< x", "<(id)", "#", "' #", "a b", "\t",
	"$'\\''", `$"x"`, "}", ")", "(", "{{ p }}", "x=y", "-n", "!", "EOF", "＄（ｉｄ）", "",
}

// pasted renders t with the values pasted in, quoted for the context lex found:
// 'v' outside quotes, v with \ " $ ` escaped inside double quotes, '\”v'\” (close,
// quote, reopen) inside single quotes. The items of a list are words of their own.
func pasted(t *template, vals map[string][]string) string {
	sq := func(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }
	var b strings.Builder
	for _, s := range t.segs {
		if s.param == "" {
			b.WriteString(s.text)
			continue
		}
		for k, v := range vals[s.param] {
			switch s.q {
			case bare:
				if k > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(sq(v))
			case double:
				b.WriteString(`"` + sq(v) + `"`)
			case single:
				b.WriteString("'" + sq(v) + "'")
			}
		}
	}
	return b.String()
}

func parsedShape(script string) (string, error) {
	f, err := parseScript(script)
	if err != nil {
		return "", err
	}
	return shape(f), nil
}

// benignValues gives every parameter of d the value "v", a list the items "v" and "w".
func benignValues(d *Document) map[string][]string {
	vals := map[string][]string{}
	for name, p := range d.params {
		vals[name] = []string{"v"}
		if p.typ == TypeStringList {
			vals[name] = []string{"v", "w"}
		}
	}
	return vals
}

// every gives every parameter of vals the value v, as many times as it has items.
func every(vals map[string][]string, v string) map[string][]string {
	out := map[string][]string{}
	for name, items := range vals {
		out[name] = slices.Repeat([]string{v}, len(items))
	}
	return out
}

// differential checks a commands document: its real script with the benign values,
// and its pasted rendering with each set of other values (with as many list items),
// have the shape of its pasted rendering with the benign values.
func differential(d *Document, benign map[string][]string, others ...map[string][]string) error {
	want, err := parsedShape(pasted(d.script, benign))
	if err != nil {
		return fmt.Errorf("the rendering with benign values %q does not parse: %v", benign, err)
	}
	script, _ := d.script.build(benign)
	if got, err := parsedShape(script); err != nil || got != want {
		return fmt.Errorf("the script %q (%v) has the shape\n%s\nnot that of the rendering with benign values\n%s", script, err, got, want)
	}
	for _, vals := range others {
		r := pasted(d.script, vals)
		got, err := parsedShape(r)
		if err != nil {
			return fmt.Errorf("values %q break the script: %q does not parse: %v", vals, r, err)
		}
		if got != want {
			return fmt.Errorf("values %q change the script's structure: %q has the shape\n%s\nnot\n%s", vals, r, got, want)
		}
	}
	return nil
}

// hostileDifferential is differential with benignValues and every hostile value.
func hostileDifferential(d *Document) error {
	benign := benignValues(d)
	var others []map[string][]string
	for _, v := range hostile {
		others = append(others, every(benign, v))
	}
	return differential(d, benign, others...)
}

// acceptedTemplates are commands templates of every kind lex accepts.
var acceptedTemplates = []string{
	`echo {{ p }}`, `echo "x{{ p }}y"`, `echo 'a{{ p }}b'`, `echo {{ p }} "{{p}}" '{{ p }}'`,
	`printf %s {{ l }}`, `f {{ l }} {{ p }} {{ l }}`, `f {{ l }}>/dev/null`,
	"# it's {{ p }}\necho {{ p }}", `echo a#'{{ p }}'`, "echo \\\n#'\necho {{ p }}",
	`echo "it's {{ p }}"`, `echo \'{{ p }}`, `echo "\"{{ p }}"`, `echo "$"{{ p }}`,
	`echo $(echo ")") {{ p }}`, `echo "$(echo "'")" '{{ p }}'`, "echo `echo \"'\"` {{ p }}",
	`echo ${x:-'}'} {{ p }}`, `x=$(( (1 << 2) )); echo {{ p }}`, `echo ${#x} {{ p }}`,
	"cat <<'EOF'\nit's $x\nEOF\necho {{ p }}", "cat <<-EOF; echo {{ p }}\n\t'\n\tEOF\necho '{{ n }}'",
	`X={{ p }} env`, `cat <<< "it's"; echo {{ p }}`, "(( x << 2 ))\necho '{{ p }}'",
	"( (echo) ); echo {{ p }}", `echo {{ p }} $'\''`, `export {{ p }} {{ l }}`, `local x={{ p }}`,
	`for i in {{ l }}; do echo "$i{{ p }}"; done`, `case {{ p }} in {{ p }}|'{{ p }}') :;; "{{ p }}"*) ;; esac`,
	`[[ {{ p }} == x && -n "{{ p }}" ]]`, `echo *{{ p }}{{ p }}~`, `echo \\{{ p }}`, `echo \${{ p }}`,
	"echo $(# {{ p }}\n) {{ p }}", "echo {{ p }}; cat <<EOF\nx", `if [ -f {{ p }} ]; then tail -n {{ n }} {{ p }} | grep -e '{{ p }}' >> "/tmp/{{ p }}.log" 2>&1 & fi`,
	"f() { local a={{ p }}; echo \"$a\" '{{ p }}'; }\nf {{ l }}", `a=({{ p }} x)`,
	`{{ l }}`, `echo {a,{{ p }}}`, `while read -r x; do echo "{{ p }}$x"; done < {{ p }}`,
}

func TestDifferential(t *testing.T) {
	for _, commands := range acceptedTemplates {
		d, err := cmdDoc(commands)
		if err != nil {
			t.Errorf("%q: %v", commands, err)
			continue
		}
		if err := hostileDifferential(d); err != nil {
			t.Errorf("%q: %v", commands, err)
		}
	}
	for _, b := range Builtins() {
		d, err := Parse([]byte(b.Content), "")
		if err != nil {
			t.Fatal(err)
		}
		if d.script != nil {
			if err := hostileDifferential(d); err != nil {
				t.Errorf("%s: %v", b.Name, err)
			}
		}
	}
}

// TestDifferentialCatches: the check fails when a context is misjudged.
func TestDifferentialCatches(t *testing.T) {
	for _, tc := range []struct {
		commands string
		q        quoting // forced on every reference
	}{
		{`echo 'a{{ p }}b'`, bare},
		{`echo 'a{{ p }}b'`, double},
		{`echo "a{{ p }}b"`, bare},
		{`echo "a{{ p }}b"`, single},
		{`echo {{ p }}`, double},
		{`echo {{ p }}`, single},
	} {
		d, err := cmdDoc(tc.commands)
		if err != nil {
			t.Fatal(err)
		}
		wrong := *d
		wrong.script = &template{segs: slices.Clone(d.script.segs)}
		for i := range wrong.script.segs {
			if wrong.script.segs[i].param != "" {
				wrong.script.segs[i].q = tc.q
			}
		}
		if err := hostileDifferential(&wrong); err == nil {
			t.Errorf("%q with its placeholders taken as quoting %d: the check passed", tc.commands, tc.q)
		}
	}

	// And it passes the right quoting.
	d, err := cmdDoc(`echo 'a{{ p }}b' "a{{ p }}b" {{ p }}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := hostileDifferential(d); err != nil {
		t.Errorf("a correct template fails the check: %v", err)
	}
}

func TestShape(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`echo abc`, `echo 'a'"${1}"'b'`, true},
		{`echo "x${2}y" ''`, `echo xy ""`, true},
		{`echo "$x"`, `echo "v$x"`, true},
		{`echo *.txt`, `echo *"${1}"`, true},
		{`export +X`, `export "${1}"`, true},
		{"echo a # b c", "echo a", true},
		{`echo a b`, `echo 'a b'`, false},
		{`echo a; id`, `echo a`, false},
		{`echo a && id`, `echo a || id`, false},
		{`echo a`, `echo a &`, false},
		{`echo a`, `echo a > x`, false},
		{`echo $(id)`, `echo '$(id)'`, false},
		{"echo `id`", "echo '`id`'", false},
		{`echo $HOME`, `echo '$HOME'`, false},
		{`echo "$HOME"`, `echo "\$HOME"`, false},
		{`echo ${1}`, `echo "${1}"`, false},
		{`echo "${1:-x}"`, `echo "${1}"`, false},
		{`echo $((1+1))`, `echo 2`, false},
		{`echo *`, `echo '*'`, false},
		{`echo {a,b}`, `echo '{a,b}'`, false},
		{`echo ~root`, `echo '~root'`, false},
		{`echo \*`, `echo '*'`, true},
		{`x=1 env`, `x"=1" env`, false},
		{`cat <(id)`, `cat '<(id)'`, false},
		{`echo $'\''`, `echo "'"`, false},
	} {
		a, err := parsedShape(tc.a)
		if err != nil {
			t.Fatalf("%q: %v", tc.a, err)
		}
		b, err := parsedShape(tc.b)
		if err != nil {
			t.Fatalf("%q: %v", tc.b, err)
		}
		if (a == b) != tc.same {
			t.Errorf("%q is %s\n%q is %s\nwant same: %v", tc.a, a, tc.b, b, tc.same)
		}
	}
}
