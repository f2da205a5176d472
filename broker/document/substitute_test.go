package document

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cmdDoc parses a NonInteractiveCommands document with String parameter p, StringList
// parameter l and Integer parameter n, and commands as given.
func cmdDoc(commands string) (*Document, error) {
	return Parse([]byte(`{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
"parameters": {"p": {"type": "String", "maxChars": 16384}, "l": {"type": "StringList", "default": ["a"]}, "n": {"type": "Integer", "default": 1}},
"properties": {"linux": {"commands": `+jsonString(commands)+`}}}`), "JSON")
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestLex(t *testing.T) {
	for _, tc := range []struct {
		name, commands string
		l              []string
		want           string // the script, with p = "v"
	}{
		{"bare", `echo {{ p }}`, nil, `echo "${1}"`},
		{"no spaces", `echo {{p}}`, nil, `echo "${1}"`},
		{"double", `echo "x{{ p }}y"`, nil, `echo "x${1}y"`},
		{"single", `echo 'a{{ p }}b'`, nil, `echo 'a'"${1}"'b'`},
		{"same slot twice", `echo {{ p }} "{{p}}" '{{ p }}'`, nil, `echo "${1}" "${1}" ''"${1}"''`},
		{"list", `printf %s {{ l }}`, []string{"a", "b", "c"}, `printf %s "${1}" "${2}" "${3}"`},
		{"list then string", `f {{ l }} {{ p }} {{ l }}`, []string{"a", "b"}, `f "${1}" "${2}" "${3}" "${1}" "${2}"`},
		{"list before redirect", `f {{ l }}>/dev/null`, []string{"a"}, `f "${1}">/dev/null`},
		{"comment with quote", "# it's {{ p }}\necho {{ p }}", nil, "# it's {{ p }}\necho \"${1}\""},
		{"hash inside word", `echo a#'{{ p }}'`, nil, `echo a#''"${1}"''`},
		{"line continuation then comment", "echo \\\n#'\necho {{ p }}", nil, "echo \\\n#'\necho \"${1}\""},
		{"apostrophe in double", `echo "it's {{ p }}"`, nil, `echo "it's ${1}"`},
		{"escaped quote", `echo \'{{ p }}`, nil, `echo \'"${1}"`},
		{"escaped double in double", `echo "\"{{ p }}"`, nil, `echo "\"${1}"`},
		{"dollar closing double", `echo "$"{{ p }}`, nil, `echo "$""${1}"`},
		{"command substitution before", `echo $(echo ")") {{ p }}`, nil, `echo $(echo ")") "${1}"`},
		{"nested in double", `echo "$(echo "'")" '{{ p }}'`, nil, `echo "$(echo "'")" ''"${1}"''`},
		{"backticks before", "echo `echo \"'\"` {{ p }}", nil, "echo `echo \"'\"` \"${1}\""},
		{"param with quote", `echo ${x:-'}'} {{ p }}`, nil, `echo ${x:-'}'} "${1}"`},
		{"arith shift", `x=$(( (1 << 2) )); echo {{ p }}`, nil, `x=$(( (1 << 2) )); echo "${1}"`},
		{"length param", `echo ${#x} {{ p }}`, nil, `echo ${#x} "${1}"`},
		{"quoted heredoc", "cat <<'EOF'\nit's $x\nEOF\necho {{ p }}", nil, "cat <<'EOF'\nit's $x\nEOF\necho \"${1}\""},
		{"heredoc strip", "cat <<-EOF; echo {{ p }}\n\t'\n\tEOF\necho '{{ n }}'", nil, "cat <<-EOF; echo \"${1}\"\n\t'\n\tEOF\necho ''\"${2}\"''"},
		{"assignment", `X={{ p }} env`, nil, `X="${1}" env`},
		{"here-string", `cat <<< "it's"; echo {{ p }}`, nil, `cat <<< "it's"; echo "${1}"`},
		{"arithmetic command", "(( x << 2 ))\necho '{{ p }}'", nil, "(( x << 2 ))\necho ''\"${1}\"''"},
		{"subshells", "( (echo) ); echo {{ p }}", nil, `( (echo) ); echo "${1}"`},
		{"ansi quoting, no placeholder after", `echo {{ p }} $'\''`, nil, `echo "${1}" $'\''`},
		{"exported", `export {{ p }} {{ l }}`, []string{"a", "b"}, `export "${1}" "${2}" "${3}"`},
		{"declared", `local x={{ p }}`, nil, `local x="${1}"`},
		{"loop over a list", `for i in {{ l }}; do :; done`, []string{"a", "b"}, `for i in "${1}" "${2}"; do :; done`},
		{"case", `case {{ p }} in {{ p }}) :;; esac`, nil, `case "${1}" in "${1}") :;; esac`},
		{"string test", `[[ {{ p }} == x ]]`, nil, `[[ "${1}" == x ]]`},
		{"glued", `echo *{{ p }}{{ p }}~`, nil, `echo *"${1}""${1}"~`},
		{"escaped backslash", `echo \\{{ p }}`, nil, `echo \\"${1}"`},
		{"escaped dollar", `echo \${{ p }}`, nil, `echo \$"${1}"`},
		{"comment in a command substitution", "echo $(# {{ p }}\n) {{ p }}", nil, "echo $(# {{ p }}\n) \"${1}\""},
		{"heredoc to the end", "echo {{ p }}; cat <<EOF\nx", nil, "echo \"${1}\"; cat <<EOF\nx"},
		{"after a variable", `echo $x{{ p }} "$x{{ p }}"`, nil, `echo $x"${1}" "$x${1}"`},
		{"not an assignment", `x{{ p }}=1 {{ p }}=2`, nil, `x"${1}"=1 "${1}"=2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := cmdDoc(tc.commands)
			if err != nil {
				t.Fatal(err)
			}
			params := map[string][]string{"p": {"v"}}
			if tc.l != nil {
				params["l"] = tc.l
			}
			inv, err := d.Resolve(params)
			if err != nil {
				t.Fatal(err)
			}
			if got := inv.Argv[2]; got != tc.want {
				t.Errorf("script:\ngot  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestLexErrors(t *testing.T) {
	for _, tc := range []struct{ name, commands, want string }{
		{"command substitution", `echo $({{ p }})`, "placeholder {{ p }} inside a command substitution is not supported; assign it to a variable first"},
		{"command substitution in double", `echo "$(echo {{ p }})"`, "inside a command substitution"},
		{"backticks", "echo `{{ p }}`", "inside a command substitution"},
		{"parameter expansion", `echo ${x:-{{ p }}}`, "inside a parameter expansion ${...} is not supported"},
		{"arithmetic", `echo $(( {{ n }} + 1 ))`, "inside an arithmetic expansion $((...)) is not supported"},
		{"arithmetic command", `(( {{ n }} > 1 ))`, "inside an arithmetic expansion"},
		{"after backslash", `echo \{{ p }}`, "placeholder {{ p }} follows a backslash"},
		{"after backslash in double", `echo "\{{ p }}"`, "follows a backslash"},
		{"after dollar", `echo ${{ p }}`, "placeholder {{ p }} follows a $"},
		{"after dollar in double", `echo "x${{ p }}"`, "placeholder {{ p }} follows a $"},
		// The inner command substitution does not parse: dash refuses the script; bash
		// runs it, with the placeholder outside the backticks.
		{"backticks nested", "echo `echo \\`echo '\\`` {{ p }}", "shell syntax error at line 1, column 19: unterminated single quote"},
		{"unterminated backticks", "echo `date {{ p }}", "unterminated command substitution `"},
		{"syntax error", "echo {{ p }} )", "shell syntax error at line 1, column 14: a command can only contain words and redirects"},
		{"process substitution", `diff <(echo {{ p }}) x`, "placeholder {{ p }} inside a command substitution is not supported"},
		{"extended glob", `echo @({{ p }})`, "placeholder {{ p }} cannot be placed here"},
		{"function name", `{{ p }}() { :; }`, "cannot be part of a name"},
		{"loop variable", `for {{ p }} in a; do :; done`, "cannot be part of a name"},
		{"array index", `a[{{ p }}]=1`, "inside an arithmetic expansion"},
		{"let", `let {{ n }}`, "inside an arithmetic expansion"},
		{"c-style loop", `for (( i = {{ n }}; i > 0; i-- )); do :; done`, "inside an arithmetic expansion"},
		{"arithmetic test", `[[ {{ n }} -gt 1 ]]`, "placeholder {{ n }} in an arithmetic comparison of [[ ]] is not supported"},
		{"coproc name", `coproc {{ p }} { :; }`, "cannot be placed here"},
		{"ansi quoting around", `echo $'{{ p }}'`, `after $'...' or $"..." quoting is not supported`},
		{"list assigned", `export X={{ l }}`, "must be a whole word"},
		{"list redirected", `echo >{{ l }}`, "must be a whole word"},
		{"list in an array", `a=({{ l }})`, "must be a whole word"},
		{"placeholder in a syntax error", "echo {{ n }}\n[[ a {{ p }} b ]]", "shell syntax error at line 2, column 6: not a valid test operator: `{{ p }}`"},
		{"list in a test", `[[ -n {{ l }} ]]`, "must be a whole word"},
		{"ansi quoting", `echo $'x' {{ p }}`, `after $'...' or $"..." quoting is not supported`},
		{"locale quoting", `echo $"x" {{ p }}`, "is not supported"},
		{"list in double", `echo "{{ l }}"`, "StringList parameter {{ l }} must be a whole word outside quotes"},
		{"list in single", `echo '{{ l }}'`, "must be a whole word"},
		{"list glued before", `X={{ l }}`, "must be a whole word"},
		{"list glued after", `echo {{ l }}x`, "must be a whole word"},
		{"unterminated single", `echo 'abc {{ p }}`, "unterminated single quote"},
		{"unterminated double", `echo "{{ p }}`, "unterminated double quote"},
		{"unterminated substitution", `echo $(date`, "unterminated command substitution $("},
		{"heredoc body", "cat <<EOF\n{{ p }}\nEOF", "placeholder {{ p }} inside a here-document is not supported"},
		{"quoted heredoc body", "cat <<'EOF'\nx {{ p }}\nEOF", "inside a here-document"},
		{"heredoc delimiter", "cat <<{{ p }}\nx\n", "in a here-document delimiter is not supported"},
		{"heredoc to the end", "cat <<EOF\n{{ p }}", "inside a here-document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cmdDoc(tc.commands)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A trap: every command an injected value could name is a script that leaves a file in
// the canary directory. PATH holds only the trap (and printf is a shell builtin), so a
// payload such as "; rm -rf /" can only ever reach the fake rm.
func trap(t *testing.T) (env []string, canaries string) {
	t.Helper()
	bin, canaries := t.TempDir(), t.TempDir()
	for _, name := range []string{"rm", "touch", "id", "cat", "ls", "sh", "bash", "curl", "wget", "whoami", "reboot", "pwned", "ｉｄ", "x"} {
		script := "#!/bin/sh\n: > " + shellQuote(filepath.Join(canaries, "ran")) + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"PATH=" + bin, "HOME=" + canaries, "CANARY=" + filepath.Join(canaries, "env")}, canaries
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestInjection(t *testing.T) {
	if _, err := os.Stat(Shell); err != nil {
		t.Fatalf("the injection test runs %s: %v", Shell, err)
	}
	env, canaries := trap(t)
	// The trap works: a value that did reach the shell would leave a canary.
	run(t, []string{Shell, "-c", "; id"[2:], ArgZero}, env)
	if err := os.Remove(filepath.Join(canaries, "ran")); err != nil {
		t.Fatalf("the trap caught nothing: %v", err)
	}
	inert := []string{
		"; rm -rf /",
		"; touch pwned",
		"$(touch pwned)",
		"`touch pwned`",
		"$(id)",
		"${IFS}id",
		"' ; id ; '",
		`" ; id ; "`,
		`'"'"'; id; '"'"'`,
		"a\nid\nb",
		"x\n",
		"\t",
		`\`,
		`\'`,
		`\"`,
		`\$(id)`,
		"$((1+1))",
		"$HOME",
		"${CANARY:=x}",
		"*",
		"/*",
		"~",
		"~root",
		"-n",
		"-e \\x41",
		"%s%s%n",
		"| id",
		"& id &",
		"&& id",
		"|| id",
		"> $CANARY",
		"< /etc/passwd",
		"#",
		"' #",
		"}",
		"{{ p }}",
		"；rm -rf /", // fullwidth semicolon
		"＄（ｉｄ）",     // fullwidth $( id )
		"ʼ; id; ʼ",  // modifier letter apostrophe
		"\u2028id",  // line separator
		"\u202eid",  // right-to-left override: shown reversed, still inert
		"é ü 日本語 🙂", // plain Unicode
		"",
		strings.Repeat("A", 16384),
		strings.Repeat("'\"$`\\", 1000),
	}
	templates := []struct {
		commands string
		want     func(v string) string
	}{
		{`printf '%s\n' {{ p }}`, func(v string) string { return v + "\n" }},
		{`printf '%s' "x{{ p }}y"`, func(v string) string { return "x" + v + "y" }},
		{`printf '%s' 'a{{ p }}b'`, func(v string) string { return "a" + v + "b" }},
		{`printf '%s' "$(printf '%s' "'")"'{{ p }}'"{{ p }}"{{ p }}`, func(v string) string { return "'" + v + v + v }},
		{"# it's a comment {{ p }}\nX={{ p }}; printf '%s' \"$X\"", func(v string) string { return v }},
		{": <<'EOF'\nit's\nEOF\nprintf '[%s]' '{{ p }}'", func(v string) string { return "[" + v + "]" }},
		{": <<-EOF; printf %s {{ p }}\n\t$X '\n\tEOF\nprintf '[%s]' \"{{ p }}\"", func(v string) string { return v + "[" + v + "]" }},
	}
	for _, tmpl := range templates {
		d, err := cmdDoc(tmpl.commands)
		if err != nil {
			t.Fatalf("%q: %v", tmpl.commands, err)
		}
		for _, v := range inert {
			inv, err := d.Resolve(map[string][]string{"p": {v}})
			if err != nil {
				t.Errorf("%q with %.64q: %v", tmpl.commands, v, err)
				continue
			}
			if strings.Contains(inv.Argv[2], v) && len(v) > 2 && !strings.Contains(tmpl.commands, v) {
				t.Errorf("%q with %.64q: the value is in the script %q", tmpl.commands, v, inv.Argv[2])
			}
			got := run(t, inv.Argv, env)
			if want := tmpl.want(v); got != want {
				t.Errorf("%q with %.64q:\ngot  %.200q\nwant %.200q", tmpl.commands, v, got, want)
			}
			if entries, _ := os.ReadDir(canaries); len(entries) > 0 {
				t.Fatalf("%q with %.64q ran a command: %s exists", tmpl.commands, v, entries[0].Name())
			}
		}
	}

	// A StringList's items stay one argument each.
	d, err := cmdDoc(`printf '[%s]' {{ l }}`)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := d.Resolve(map[string][]string{"p": {""}, "l": inert[:10]})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, v := range inert[:10] {
		want.WriteString("[" + v + "]")
	}
	if got := run(t, inv.Argv, env); got != want.String() {
		t.Errorf("list:\ngot  %q\nwant %q", got, want.String())
	}

	refused := []struct{ value, want string }{
		{"a\x00b", "holds control character U+0000"},
		{"\x1b[2J", "holds control character U+001B"},
		{"a\rb", "holds control character U+000D"},
		{"a\x7f", "holds control character U+007F"},
		{"\u009b31m", "holds control character U+009B"},
		{"\xff\xfe", "is not valid UTF-8"},
		{"a\xc3", "is not valid UTF-8"},
		{strings.Repeat("A", 16385), "is 16385 characters, over the limit of 16384"},
	}
	d, err = cmdDoc(`printf '%s' {{ p }}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range refused {
		_, err := d.Resolve(map[string][]string{"p": {tc.value}})
		if err == nil || !strings.Contains(err.Error(), `parameter "p": value `) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.64q: got %v, want an error containing %q", tc.value, err, tc.want)
		}
	}
}

// run executes argv with env and returns its standard output.
func run(t *testing.T, argv, env []string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("run %.200q: %v: %s", argv, err, stderr.String())
	}
	return stdout.String()
}
