package document

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "tail -f /var/log/syslog", want: []string{"tail", "-f", "/var/log/syslog"}},
		{in: "  top  ", want: []string{"top"}},
		{in: "", want: nil},
		{in: `grep "a b" 'c d' e\ f`, want: []string{"grep", "a b", "c d", "e f"}},
		{in: `echo "say \"hi\" \$HOME \x"`, want: []string{"echo", `say "hi" $HOME \x`}},
		{in: `echo a"b"'c'`, want: []string{"echo", "abc"}},
		{in: `echo ""`, want: []string{"echo", ""}},
		// Nothing is expanded and no operator is special.
		{in: "ls; rm -rf / && $(id) `id` *", want: []string{"ls;", "rm", "-rf", "/", "&&", "$(id)", "`id`", "*"}},
		{in: "echo 'open", err: "unterminated single quote"},
		{in: `echo "open`, err: "unterminated double quote"},
		{in: `echo \`, err: "trailing backslash"},
	} {
		got, err := SplitWords(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SplitWords(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSplitWords: the splitter never panics; text without quotes or backslashes splits
// exactly as strings.Fields would on spaces, tabs and newlines; and where a shell's
// grammar coincides with it (no character a shell would treat as an operator or an
// expansion), it splits as the mvdan parser does and unquotes as its quote removal does.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"tail -f x", `a "b c" 'd' e\ f`, "'", `"\`, "a\tb\nc", `echo "a\"b\x" 'c\' d\e`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitWords(s)
		if err == nil {
			if shell, ok := shellWords(s); ok && !slices.Equal(words, shell) {
				t.Fatalf("SplitWords(%q) = %q; a shell reads %q", s, words, shell)
			}
		}
		if strings.ContainsAny(s, `'"\`) {
			return
		}
		want := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
		if err != nil || !slices.Equal(words, want) {
			t.Fatalf("SplitWords(%q) = %q, %v; want %q", s, words, err, want)
		}
	})
}

// shellWords is the words of s as a shell reads them, quotes removed, if s is made of
// simple commands with nothing in them that a shell would expand or treat as an
// operator.
func shellWords(s string) ([]string, bool) {
	if strings.ContainsAny(s, "$`;&|<>()#*?[]{}~!=") || strings.Contains(s, "\\\n") || !utf8.ValidString(s) {
		return nil, false
	}
	// Nor control characters, which shells read apart (the parser drops NUL); Resolve
	// refuses them in values anyway.
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' && r != '\n' || r == 0x7f }) {
		return nil, false
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(s), "")
	if err != nil {
		return nil, false
	}
	words := []string{}
	for _, st := range f.Stmts {
		call, ok := st.Cmd.(*syntax.CallExpr)
		if !ok || len(call.Assigns) > 0 || len(st.Redirs) > 0 || st.Negated || st.Background {
			return nil, false
		}
		for _, w := range call.Args {
			fields, err := expand.Fields(nil, w)
			if err != nil || len(fields) != 1 {
				return nil, false
			}
			words = append(words, fields[0])
		}
	}
	return words, true
}

func TestShellWords(t *testing.T) {
	for _, s := range []string{`grep "a b" 'c d' e\ f`, `echo "say \"hi\" \x" a"b"'c' ""`, "a\tb\nc d"} {
		want, ok := shellWords(s)
		got, err := SplitWords(s)
		if !ok || err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: SplitWords %q, %v; shell %q, %v", s, got, err, want, ok)
		}
	}
}
