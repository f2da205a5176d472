package document

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Scripts are parsed as bash: its grammar is a superset of POSIX sh's for everything
// but $'...' and $"..." (after which lex places no placeholder), it is /bin/sh on some
// systems, and it is how Tether has always read (( )), <<< and $'...'.
func newParser() *syntax.Parser {
	return syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true))
}

var unclosedHdocRE = regexp.MustCompile("^unclosed here-document `(.*)`$")

// parseScript parses a commands script. A here-document may run to the end of the
// script, which the shells accept (bash with a warning) and the parser does not: it is
// closed for the parser, which is given the script with its delimiter line added.
func parseScript(src string) (*syntax.File, error) {
	text := src
	var last syntax.ParseError
	for range 16 { // here-documents closed at most; each retry closes one more
		f, err := newParser().Parse(strings.NewReader(text), "")
		var pe syntax.ParseError
		if err != nil && errors.As(err, &pe) && pe != last {
			if m := unclosedHdocRE.FindStringSubmatch(pe.Text); m != nil {
				text += "\n" + strings.NewReplacer(`'`, "", `"`, "", `\`, "").Replace(m[1]) + "\n"
				last = pe
				continue
			}
		}
		return f, err
	}
	return nil, fmt.Errorf("more than 16 here-documents run to the end of the script")
}

// syntaxError words a parse error as Tether words its own. src is the template and
// sent its sentinels, or src is what was parsed and sent is nil.
func syntaxError(err error, src string, sent *sentinels) string {
	var pe syntax.ParseError
	if !errors.As(err, &pe) {
		return "the script does not parse: " + err.Error()
	}
	msg := pe.Text
	switch msg {
	case "reached EOF without closing quote `'`":
		msg = "unterminated single quote"
	case "reached EOF without closing quote `\"`":
		msg = "unterminated double quote"
	case "reached EOF without matching `$(` with `)`":
		msg = "unterminated command substitution $("
	case "reached EOF without closing quote \"`\"":
		msg = "unterminated command substitution `"
	}
	off := int(pe.Pos.Offset())
	if sent != nil {
		off = sent.original(off)
		msg = sent.restore(msg)
	}
	off = min(off, len(src))
	line := 1 + strings.Count(src[:off], "\n")
	col := off - strings.LastIndexByte(src[:off], '\n')
	return fmt.Sprintf("shell syntax error at line %d, column %d: %s", line, col, msg)
}

// shape summarises a parsed script's structure: its statements and commands, their
// operators and redirections, and each word as the kinds of its parts. Adjacent parts
// that expand to literal text, whatever their quoting, are one kind (L): 'a'"${1}"'b' is
// the same word as abc; quotes are literal text, even empty ones ("$x" is L P). A quoted reference to a positional parameter ("${1}", "x${2}")
// counts as literal text, since its value is never parsed, split or globbed; an unquoted
// part holding a glob or brace or tilde character marks its word (g). Comments are not
// part of the shape.
//
// Two scripts of the same shape run the same commands with the same number of words,
// whatever their literal text; lex checks that a rendered script has its template's
// shape, and the tests that values, pasted in quoted as lex found their context quoted,
// cannot change it.
func shape(f *syntax.File) string {
	var s shaper
	s.node(f)
	return s.b.String()
}

type shaper struct{ b strings.Builder }

func (s *shaper) node(root syntax.Node) {
	syntax.Walk(root, func(n syntax.Node) bool {
		switch n := n.(type) {
		case nil:
			s.b.WriteByte(')')
			return true
		case *syntax.Comment:
			return false
		case *syntax.Word:
			s.word(n.Parts)
			return false
		case *syntax.Lit: // a name: of a variable, function, loop or file descriptor
			s.b.WriteString("N ")
			return false
		case *syntax.Assign:
			if n.Naked && n.Name != nil && n.Index == nil && n.Value == nil {
				// export NAME: the same argument as export "${1}"
				s.b.WriteString("Assign{naked}(")
				s.word([]syntax.WordPart{n.Name})
				s.b.WriteByte(')')
				return false
			}
			fmt.Fprintf(&s.b, "Assign%s(", flags(n.Naked, "naked", n.Append, "append"))
		case *syntax.Stmt:
			fmt.Fprintf(&s.b, "Stmt%s(", flags(n.Negated, "!", n.Background, "&", n.Coprocess, "|&"))
		case *syntax.BinaryCmd:
			fmt.Fprintf(&s.b, "BinaryCmd{%s}(", n.Op)
		case *syntax.Redirect:
			fmt.Fprintf(&s.b, "Redirect{%s}(", n.Op)
		case *syntax.CaseItem:
			fmt.Fprintf(&s.b, "CaseItem{%s}(", n.Op)
		case *syntax.DeclClause:
			fmt.Fprintf(&s.b, "Decl{%s}(", n.Variant.Value)
		case *syntax.BinaryTest:
			fmt.Fprintf(&s.b, "BinaryTest{%s}(", n.Op)
		case *syntax.UnaryTest:
			fmt.Fprintf(&s.b, "UnaryTest{%s}(", n.Op)
		case *syntax.BinaryArithm:
			fmt.Fprintf(&s.b, "BinaryArithm{%s}(", n.Op)
		case *syntax.UnaryArithm:
			fmt.Fprintf(&s.b, "UnaryArithm{%s}(", n.Op)
		default:
			fmt.Fprintf(&s.b, "%T(", n)
		}
		return true
	})
}

func flags(kv ...any) string {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		if kv[i].(bool) {
			b.WriteString("{" + kv[i+1].(string) + "}")
		}
	}
	return b.String()
}

// word writes a word's shape: W[kinds], g marking globs.
func (s *shaper) word(parts []syntax.WordPart) {
	var kinds []string
	glob := false
	add := func(k string) {
		if k == "L" && len(kinds) > 0 && kinds[len(kinds)-1] == "L" {
			return
		}
		kinds = append(kinds, k)
	}
	var part func(p syntax.WordPart, quoted bool)
	part = func(p syntax.WordPart, quoted bool) {
		switch p := p.(type) {
		case *syntax.Lit:
			add("L")
			glob = glob || !quoted && unquotedGlob(p.Value)
		case *syntax.SglQuoted:
			if p.Dollar {
				add("$'")
			} else {
				add("L")
			}
		case *syntax.DblQuoted:
			if p.Dollar {
				add(`$"`)
			}
			add("L") // "" is a word, however empty
			for _, q := range p.Parts {
				part(q, true)
			}
		case *syntax.ParamExp:
			if quoted && positional(p) {
				add("L")
			} else {
				add("P")
			}
		default: // substitutions, arithmetic, extended globs: their own shape
			var sub shaper
			sub.node(p)
			add(sub.b.String())
		}
	}
	for _, p := range parts {
		part(p, false)
	}
	s.b.WriteString("W[" + strings.Join(kinds, " "))
	if glob {
		s.b.WriteString(" g")
	}
	s.b.WriteString("] ")
}

// unquotedGlob reports whether the unquoted literal v has a character that globbing,
// brace or tilde expansion would act on, not escaped by a backslash.
func unquotedGlob(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '*', '?', '[', '{', '~':
			return true
		}
	}
	return false
}

// positional reports whether p is $N or ${N}, nothing more.
func positional(p *syntax.ParamExp) bool {
	if p.Param == nil || p.Param.Value == "" || p.Param.Value == "0" || strings.Trim(p.Param.Value, "0123456789") != "" {
		return false
	}
	return p.Flags == nil && !p.Excl && !p.Length && !p.Width && !p.IsSet && p.NestedParam == nil &&
		p.Index == nil && len(p.Modifiers) == 0 && p.Slice == nil && p.Repl == nil && p.Names == 0 && p.Exp == nil
}
