package document

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A commands template is run as
//
//	/bin/sh -c SCRIPT tether-doc V1 V2 ...
//
// SCRIPT is the template with each {{ name }} replaced by a reference to the positional
// parameter(s) holding the value, quoted for the template's quoting context at that point:
// "${N}" outside quotes, ${N} inside double quotes, '"${N}"' inside single quotes (closing
// and reopening them). Values never become part of the script, so no value is parsed by
// the shell; the template itself is trusted (an administrator wrote it), and what it does
// with "${N}" (eval, sh -c) is its author's business.

// Shell and ArgZero are the first and fourth words of a commands document's Argv.
const (
	Shell   = "/bin/sh"
	ArgZero = "tether-doc"
)

// placeholderRE finds {{ name }}, spaces optional; what is inside is checked by name.
var placeholderRE = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

type quoting int

const (
	bare   quoting = iota // outside quotes
	double                // inside "..."
	single                // inside '...'
)

// segment is literal script text, or a reference to a parameter.
type segment struct {
	text  string
	param string
	q     quoting
}

type template struct{ segs []segment }

// placeholder is one {{ name }} found in a property.
type placeholder struct {
	start, end int
	name       string
}

// placeholders finds the placeholders in s, a property at path; each must name a
// declared parameter.
func (d *Document) placeholders(path, s string) ([]placeholder, error) {
	var out []placeholder
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(s, -1) {
		name := strings.TrimSpace(s[m[2]:m[3]])
		lower := strings.ToLower(name)
		switch {
		case strings.HasPrefix(lower, "ssm:"), strings.HasPrefix(lower, "ssm-secure:"), strings.HasPrefix(lower, "resolve:"):
			return nil, fmt.Errorf("document: %s: {{ %.64s }}: parameter store references are not supported by Tether", path, name)
		case !paramNameRE.MatchString(name):
			return nil, fmt.Errorf("document: %s: %.80q is not a valid placeholder (want {{ name }} naming a parameter)", path, s[m[0]:m[1]])
		}
		if _, ok := d.params[name]; !ok {
			declared := "the document declares none"
			if len(d.names) > 0 {
				declared = "declared: " + strings.Join(d.names, ", ")
			}
			return nil, fmt.Errorf("document: %s: placeholder {{ %s }} names no declared parameter (%s)", path, name, declared)
		}
		out = append(out, placeholder{start: m[0], end: m[1], name: name})
	}
	return out, nil
}

// lex splits a commands template into literal text and parameter references, finding
// each reference's context with a real shell parser (mvdan.cc/sh/v3/syntax): each
// {{ name }} is replaced by a sentinel word found nowhere else in the script, the script
// is parsed, and the sentinel's place in the syntax tree is the placeholder's context.
// A placeholder is accepted only as part of a plain word: outside quotes, inside double
// quotes or inside single quotes. One anywhere else (in a command substitution, a
// parameter or arithmetic expansion, a here-document, a name; after a backslash or a $;
// a StringList that is not a whole argument) is an error, as is a script that does not
// parse. Last, the rendered script is parsed in turn and must have the template's
// structure (see shape), a check that nothing above missed a way for a quoted reference
// to change it.
func (d *Document) lex(path, src string) (*template, error) {
	phs, err := d.placeholders(path, src)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("document: %s: "+format, append([]any{path}, args...)...)
	}
	sent := newSentinels(src, phs)
	f, err := parseScript(sent.script)
	if err != nil {
		return nil, fail("%s", syntaxError(err, src, sent))
	}
	sites, dollarQuotes := d.locate(f, sent, phs)
	for k, ph := range phs {
		s := sites[k]
		for _, dq := range dollarQuotes {
			if dq < sent.offsets[k] {
				s.err = errDollarQ
			}
		}
		if s.err != "" {
			return nil, fail(s.err, ph.name)
		}
	}

	var t template
	last := 0
	for k, ph := range phs {
		t.segs = append(t.segs, segment{text: src[last:ph.start]})
		if sites[k].comment {
			// The shell ignores it: it stays as written.
			t.segs = append(t.segs, segment{text: src[ph.start:ph.end]})
		} else {
			t.segs = append(t.segs, segment{param: ph.name, q: sites[k].q})
		}
		last = ph.end
	}
	t.segs = append(t.segs, segment{text: src[last:]})

	// The rendered script must parse to the template's structure, a reference standing
	// where its placeholder stood.
	one := map[string][]string{}
	for name := range d.params {
		one[name] = []string{"v"}
	}
	rendered, _ := t.build(one)
	rf, err := parseScript(rendered)
	if err != nil {
		return nil, fail("the script does not parse once its placeholders are quoted: %s", syntaxError(err, rendered, nil))
	}
	if got, want := shape(rf), shape(f); got != want {
		return nil, fail("the script does not keep its structure once its placeholders are quoted: a placeholder is where it cannot be placed")
	}
	return &t, nil
}

// sentinels is a script with each placeholder replaced by a word found nowhere in the
// template: "+", prefix, the placeholder's index, "Z". The + ends
// a name before it ($x{{ p }} is $x then the placeholder, x{{ p }}=1 no assignment) as a
// quoted reference does, and is an operand in arithmetic, so that an arithmetic
// expansion parses; the rest are letters and digits, literal in any word.
type sentinels struct {
	script  string
	prefix  string
	words   []string
	offsets []int    // of each word in script
	lens    []int    // of each placeholder in the template
	names   []string // of each placeholder
}

func newSentinels(src string, phs []placeholder) *sentinels {
	s := &sentinels{prefix: "TetherPlaceholder"}
	for strings.Contains(src, s.prefix) {
		s.prefix += "X"
	}
	var b strings.Builder
	last := 0
	for k, ph := range phs {
		b.WriteString(src[last:ph.start])
		w := "+" + s.prefix + strconv.Itoa(k) + "Z"
		s.words = append(s.words, w)
		s.offsets = append(s.offsets, b.Len())
		s.lens = append(s.lens, ph.end-ph.start)
		s.names = append(s.names, ph.name)
		b.WriteString(w)
		last = ph.end
	}
	b.WriteString(src[last:])
	s.script = b.String()
	return s
}

// find calls f with the index of each sentinel in text and where it starts, its + aside
// (the + may be in text, or not, as in arithmetic where it is an operator).
func (s *sentinels) find(text string, f func(k, at int)) {
	for off := 0; ; {
		i := strings.Index(text[off:], s.prefix)
		if i < 0 {
			return
		}
		at := off + i
		j := at + len(s.prefix)
		e := j
		for e < len(text) && text[e] >= '0' && text[e] <= '9' {
			e++
		}
		if k, err := strconv.Atoi(text[j:e]); err == nil && e < len(text) && text[e] == 'Z' && k < len(s.words) {
			f(k, at)
		}
		off = j
	}
}

// restore puts the placeholders back in a message about the script.
func (s *sentinels) restore(msg string) string {
	for k := len(s.words) - 1; k >= 0; k-- { // 10 before 1
		msg = strings.ReplaceAll(msg, s.words[k], "{{ "+s.names[k]+" }}")
		msg = strings.ReplaceAll(msg, s.words[k][1:], "{{ "+s.names[k]+" }}")
	}
	return msg
}

// original maps an offset in the script with sentinels to one in the template.
func (s *sentinels) original(off int) int {
	shift := 0
	for k, w := range s.words {
		switch at := s.offsets[k]; {
		case off < at:
			return off - shift
		case off < at+len(w):
			return at - shift
		}
		shift += len(w) - s.lens[k]
	}
	return off - shift
}

// site is what the syntax tree says of one placeholder.
type site struct {
	found   bool
	comment bool
	q       quoting
	err     string // a format with the placeholder's name for its one %s
}

const (
	errCmdSubst  = "placeholder {{ %s }} inside a command substitution is not supported; assign it to a variable first"
	errParamExp  = "placeholder {{ %s }} inside a parameter expansion ${...} is not supported; assign it to a variable first"
	errArith     = "placeholder {{ %s }} inside an arithmetic expansion $((...)) is not supported; assign it to a variable first"
	errArithTest = "placeholder {{ %s }} in an arithmetic comparison of [[ ]] is not supported (bash evaluates its operands as arithmetic); compare it with = or !="
	errHdoc      = "placeholder {{ %s }} inside a here-document is not supported; pass it as an argument or assign it to a variable first"
	errHdocDelim = "placeholder {{ %s }} in a here-document delimiter is not supported"
	errDollarQ   = "placeholder {{ %s }} after $'...' or $\"...\" quoting is not supported (shells read them differently)"
	errBackslash = "placeholder {{ %s }} follows a backslash"
	errDollar    = "placeholder {{ %s }} follows a $"
	errName      = "placeholder {{ %s }} cannot be part of a name (of a variable, a function or a file descriptor)"
	errPlace     = "placeholder {{ %s }} cannot be placed here"
	errList      = "StringList parameter {{ %s }} must be a whole word outside quotes"
)

// locate walks the parsed script and works out each placeholder's site; it also returns
// where the script has $'...' and $"..." quotes.
func (d *Document) locate(f *syntax.File, sent *sentinels, phs []placeholder) (sites []site, dollarQuotes []int) {
	sites = make([]site, len(phs))
	var stack []syntax.Node
	syntax.Walk(f, func(n syntax.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		var text string
		switch n := n.(type) {
		case *syntax.Lit:
			text = n.Value
		case *syntax.SglQuoted:
			if n.Dollar {
				dollarQuotes = append(dollarQuotes, int(n.Pos().Offset()))
			}
			text = n.Value
		case *syntax.DblQuoted:
			if n.Dollar {
				dollarQuotes = append(dollarQuotes, int(n.Pos().Offset()))
			}
			return true
		case *syntax.Comment:
			text = n.Text
		default:
			return true
		}
		sent.find(text, func(k, at int) {
			s := site{err: "placeholder {{ %s }} appears twice in the parsed script"}
			if !sites[k].found {
				s = classify(stack, text, at, sent.words[k], d.params[phs[k].name].typ == TypeStringList)
			}
			s.found = true
			sites[k] = s
		})
		return true
	})
	for k := range sites {
		if !sites[k].found {
			sites[k].err = errPlace
		}
	}
	return sites, dollarQuotes
}

// classify works out the site of the sentinel word at text[at:], text being the value of
// the innermost node of stack (a Lit, a SglQuoted or a Comment).
func classify(stack []syntax.Node, text string, at int, word string, list bool) site {
	if at > 0 && text[at-1] == '+' {
		at--
	}
	n := stack[len(stack)-1]
	if _, ok := n.(*syntax.Comment); ok {
		return site{comment: true}
	}
	in := func(x syntax.Node) bool { return slices.Contains(stack, x) }
	// The contexts a reference cannot be placed in, outermost first.
	for _, a := range stack[:len(stack)-1] {
		switch a := a.(type) {
		case *syntax.CmdSubst, *syntax.ProcSubst:
			return site{err: errCmdSubst}
		case *syntax.ParamExp:
			if a.Short && syntax.Node(a.Param) == n {
				return site{err: errDollar}
			}
			return site{err: errParamExp}
		case *syntax.ArithmExp, *syntax.ArithmCmd, *syntax.LetClause, *syntax.CStyleLoop:
			return site{err: errArith}
		case *syntax.Assign:
			if a.Index != nil && in(a.Index) {
				return site{err: errArith}
			}
		case *syntax.ArrayElem:
			if a.Index != nil && in(a.Index) {
				return site{err: errArith}
			}
		case *syntax.BinaryTest:
			switch a.Op {
			case syntax.TsEql, syntax.TsNeq, syntax.TsLeq, syntax.TsGeq, syntax.TsLss, syntax.TsGtr:
				return site{err: errArithTest}
			}
		case *syntax.Redirect:
			if a.Op == syntax.Hdoc || a.Op == syntax.DashHdoc {
				if a.Hdoc != nil && in(a.Hdoc) {
					return site{err: errHdoc}
				}
				return site{err: errHdocDelim}
			}
		case *syntax.ExtGlob:
			return site{err: errPlace}
		}
	}
	// The quoting: the innermost quotes.
	var s site
	for _, a := range slices.Backward(stack) {
		if q, ok := a.(*syntax.SglQuoted); ok {
			if q.Dollar {
				return site{err: errDollarQ}
			}
			s.q = single
			break
		}
		if q, ok := a.(*syntax.DblQuoted); ok {
			if q.Dollar {
				return site{err: errDollarQ}
			}
			s.q = double
			break
		}
	}
	// The word the sentinel is part of, and where that word stands.
	wholeWord := false
	lit, isLit := n.(*syntax.Lit)
	if isLit {
		// What comes before, in this part and an adjacent literal one: the parser
		// makes a lone $ a part of its own.
		before := text[:at]
		if at == 0 {
			before = prevLit(stack) + before
		}
		if backslashes(before)%2 == 1 {
			return site{err: errBackslash}
		}
		if strings.HasSuffix(before, "$") && backslashes(before[:len(before)-1])%2 == 0 {
			return site{err: errDollar}
		}
		switch p := stack[len(stack)-2].(type) {
		case *syntax.Word, *syntax.DblQuoted:
		case *syntax.Assign:
			// declare/export/local/readonly NAME: the name is an argument, as in
			// export "${1}".
			if _, decl := stack[len(stack)-3].(*syntax.DeclClause); !decl || !p.Naked || p.Index != nil || p.Value != nil {
				return site{err: errName}
			}
			wholeWord = lit.Value == word
		default:
			return site{err: errName}
		}
	}
	if !wholeWord {
		var w *syntax.Word
		wi := 0
		for i, a := range slices.Backward(stack) {
			if x, ok := a.(*syntax.Word); ok {
				w, wi = x, i
				break
			}
		}
		if w == nil || wi == 0 {
			return site{err: errPlace}
		}
		switch p := stack[wi-1].(type) {
		case *syntax.CallExpr, *syntax.WordIter:
			wholeWord = isLit && lit.Value == word && len(w.Parts) == 1
		case *syntax.Assign:
			// A naked argument of declare/export/local/readonly is a whole word.
			wholeWord = p.Naked && p.Value == w && isLit && lit.Value == word && len(w.Parts) == 1
		case *syntax.Redirect, *syntax.CaseClause, *syntax.CaseItem, *syntax.ArrayElem,
			*syntax.TestClause, *syntax.UnaryTest, *syntax.BinaryTest, *syntax.BraceExp:
		default:
			return site{err: errPlace}
		}
	}
	if list && (s.q != bare || !wholeWord) {
		return site{err: errList}
	}
	return s
}

// prevLit is the value of the literal part just before the innermost node of stack in
// its word or double quotes, if there is one.
func prevLit(stack []syntax.Node) string {
	var parts []syntax.WordPart
	switch p := stack[len(stack)-2].(type) {
	case *syntax.Word:
		parts = p.Parts
	case *syntax.DblQuoted:
		parts = p.Parts
	}
	for i, part := range parts {
		if syntax.Node(part) == stack[len(stack)-1] && i > 0 {
			if l, ok := parts[i-1].(*syntax.Lit); ok {
				return l.Value
			}
		}
	}
	return ""
}

// backslashes counts the backslashes that end s.
func backslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

// build renders the script and the positional values for resolved parameter values:
// each parameter gets its slots when it is first referenced.
func (t *template) build(vals map[string][]string) (string, []string) {
	var b strings.Builder
	slots := map[string][]int{}
	var args []string
	for _, s := range t.segs {
		if s.param == "" {
			b.WriteString(s.text)
			continue
		}
		ns, ok := slots[s.param]
		if !ok {
			for _, v := range vals[s.param] {
				args = append(args, v)
				ns = append(ns, len(args))
			}
			slots[s.param] = ns
		}
		for k, n := range ns {
			ref := "${" + strconv.Itoa(n) + "}"
			switch s.q {
			case bare:
				if k > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(`"` + ref + `"`)
			case double:
				b.WriteString(ref)
			case single:
				b.WriteString(`'"` + ref + `"'`)
			}
		}
	}
	return b.String(), args
}
