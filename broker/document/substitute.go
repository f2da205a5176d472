package document

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
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

// Contexts of the lexer's stack.
type lexCtx int

const (
	ctxTop      lexCtx = iota
	ctxSingle          // '...'
	ctxDouble          // "..."
	ctxCmdSub          // $(...)
	ctxBacktick        // `...`
	ctxParam           // ${...}
	ctxArith           // $((...))
)

var ctxNames = map[lexCtx]string{
	ctxSingle: "single quote", ctxDouble: "double quote", ctxCmdSub: "command substitution $(",
	ctxBacktick: "command substitution `", ctxParam: "parameter expansion ${", ctxArith: "arithmetic expansion $((",
}

var ctxInside = map[lexCtx]string{ctxParam: "a parameter expansion ${...}", ctxArith: "an arithmetic expansion $((...))"}

type frame struct {
	ctx   lexCtx
	depth int // nested ( in $( and $((, { in ${
}

type heredoc struct {
	delim  string
	strip  bool // <<-
	quoted bool
}

// lex splits a commands template into literal text and parameter references, finding
// each reference's quoting context with a small lexer of POSIX sh: quotes, backslashes,
// comments, command substitutions, parameter and arithmetic expansions, here-documents.
// A placeholder the lexer cannot place safely (inside a substitution or a here-document,
// after a backslash or a $, a StringList that is not a whole word) is an error.
func (d *Document) lex(path, src string) (*template, error) {
	phs, err := d.placeholders(path, src)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("document: %s: "+format, append([]any{path}, args...)...)
	}
	var (
		t        template
		stack    = []frame{{ctx: ctxTop}}
		esc      bool   // the previous byte was an unquoted backslash
		escWord  bool   // word, before that backslash
		word     = true // at the start of a shell word
		comment  bool
		pending  []heredoc
		litStart int
		next     int // index into phs
	)
	top := func() *frame { return &stack[len(stack)-1] }
	push := func(c lexCtx) { stack = append(stack, frame{ctx: c}) }
	pop := func() { stack = stack[:len(stack)-1] }
	phAt := func(i int) bool { return next < len(phs) && phs[next].start == i }
	var ansi bool
	// finish ends the lexing at a $'...' or $"...": shells read them differently, so
	// nothing after one can be placed, and with no placeholder after it nothing need be.
	finish := func() (*template, error) {
		if next < len(phs) {
			return nil, fail("placeholder {{ %s }} after $'...' or $\"...\" quoting is not supported (shells read them differently)", phs[next].name)
		}
		t.segs = append(t.segs, segment{text: src[litStart:]})
		return &t, nil
	}

	for i := 0; i < len(src); {
		if next < len(phs) && phs[next].start < i { // skipped by a lookahead: no context for it
			return nil, fail("placeholder {{ %s }} cannot be placed here", phs[next].name)
		}
		if phAt(i) {
			ph := phs[next]
			p := d.params[ph.name]
			var q quoting
			switch {
			case comment:
				i = ph.end
				next++
				continue // stays literal text: the shell ignores it
			case esc:
				return nil, fail("placeholder {{ %s }} follows a backslash", ph.name)
			}
			for _, f := range stack {
				switch f.ctx {
				case ctxCmdSub, ctxBacktick:
					return nil, fail("placeholder {{ %s }} inside a command substitution is not supported; assign it to a variable first", ph.name)
				case ctxParam, ctxArith:
					return nil, fail("placeholder {{ %s }} inside %s is not supported; assign it to a variable first", ph.name, ctxInside[f.ctx])
				}
			}
			switch top().ctx {
			case ctxDouble:
				q = double
			case ctxSingle:
				q = single
			}
			if p.typ == TypeStringList && (q != bare || !word || (ph.end < len(src) && !boundary(src[ph.end]))) {
				return nil, fail("StringList parameter {{ %s }} must be a whole word outside quotes", ph.name)
			}
			t.segs = append(t.segs, segment{text: src[litStart:i]}, segment{param: ph.name, q: q})
			i, litStart = ph.end, ph.end
			next++
			word = false
			continue
		}
		c := src[i]
		i++
		if comment {
			if c == '\n' {
				comment = false
				word = true
				if i, err = heredocs(src, i, pending, phs, &next, fail); err != nil {
					return nil, err
				}
				pending = nil
			}
			continue
		}
		if esc {
			esc = false
			// A line continuation vanishes; any other escaped byte is part of a word.
			word = c == '\n' && escWord
			continue
		}
		f := top()
		if f.ctx == ctxSingle {
			if c == '\'' {
				pop()
			}
			continue
		}
		if f.ctx == ctxDouble {
			switch c {
			case '\\':
				esc, escWord = true, false
			case '"':
				pop()
				word = false
			case '`':
				push(ctxBacktick)
			case '$':
				if phAt(i) {
					return nil, fail("placeholder {{ %s }} follows a $", phs[next].name)
				}
				if i, ansi = dollarAt(src, i, push, false); ansi {
					return finish()
				}
			}
			continue
		}
		// A code context.
		isWordStart := word
		word = false
		switch c {
		case '\\':
			esc, escWord = true, isWordStart
		case '\'':
			push(ctxSingle)
		case '"':
			push(ctxDouble)
		case '`':
			if f.ctx == ctxBacktick {
				pop()
			} else {
				push(ctxBacktick)
			}
		case '$':
			if phAt(i) {
				return nil, fail("placeholder {{ %s }} follows a $", phs[next].name)
			}
			if i, ansi = dollarAt(src, i, push, true); ansi {
				return finish()
			}
		case '#':
			if isWordStart && f.ctx != ctxParam && f.ctx != ctxArith {
				comment = true
			}
		case '(':
			switch {
			case isWordStart && f.ctx != ctxParam && f.ctx != ctxArith && i < len(src) && src[i] == '(':
				push(ctxArith) // (( ... )), bash's arithmetic command (dash: two subshells)
				i++
			case f.ctx == ctxCmdSub || f.ctx == ctxArith:
				f.depth++
			}
			word = true
		case ')':
			switch {
			case f.ctx == ctxCmdSub && f.depth == 0:
				pop()
			case f.ctx == ctxArith && f.depth == 0:
				if i < len(src) && src[i] == ')' {
					i++
				}
				pop()
			case f.ctx == ctxCmdSub || f.ctx == ctxArith:
				f.depth--
			default:
				word = true
			}
		case '{':
			if f.ctx == ctxParam {
				f.depth++
			}
		case '}':
			if f.ctx == ctxParam {
				if f.depth == 0 {
					pop()
				} else {
					f.depth--
				}
			}
		case '<':
			switch {
			case f.ctx == ctxArith || f.ctx == ctxParam || !strings.HasPrefix(src[i:], "<"):
			case strings.HasPrefix(src[i:], "<<"):
				i += 2 // <<<, bash's here-string
			default:
				h, end, err := heredocStart(src, i+1, phs, next)
				if err != nil {
					return nil, fail("%v", err)
				}
				pending = append(pending, h)
				i = end
			}
			word = true
		case '\n':
			word = true
			if len(pending) > 0 {
				if i, err = heredocs(src, i, pending, phs, &next, fail); err != nil {
					return nil, err
				}
				pending = nil
			}
		case ' ', '\t', ';', '&', '|', '>':
			word = true
		}
	}
	if len(stack) > 1 {
		return nil, fail("unterminated %s", ctxNames[top().ctx])
	}
	t.segs = append(t.segs, segment{text: src[litStart:]})
	return &t, nil
}

// boundary reports whether c ends a shell word.
func boundary(c byte) bool { return strings.IndexByte(" \t\n;&|)<>", c) >= 0 }

// dollarAt handles a $ just read (src[i-1]): $( $(( and ${ open contexts; $' and $"
// outside double quotes (code) are reported in ansi; anything else is a plain $. It
// returns where to go on.
func dollarAt(src string, i int, push func(lexCtx), code bool) (next int, ansi bool) {
	switch {
	case strings.HasPrefix(src[i:], "(("):
		push(ctxArith)
		return i + 2, false
	case strings.HasPrefix(src[i:], "("):
		push(ctxCmdSub)
		return i + 1, false
	case strings.HasPrefix(src[i:], "{"):
		push(ctxParam)
		return i + 1, false
	case code && (strings.HasPrefix(src[i:], "'") || strings.HasPrefix(src[i:], `"`)):
		return i, true
	}
	return i, false
}

// heredocStart reads a here-document's delimiter word after "<<" (src[i:]); no
// placeholder may be part of it.
func heredocStart(src string, i int, phs []placeholder, next int) (heredoc, int, error) {
	var h heredoc
	if i < len(src) && src[i] == '-' {
		h.strip = true
		i++
	}
	for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	var b strings.Builder
	var q byte
	start := i
	for ; i < len(src); i++ {
		c := src[i]
		if q != 0 {
			if c == q {
				q = 0
			} else {
				b.WriteByte(c)
			}
			continue
		}
		if boundary(c) {
			break
		}
		switch c {
		case '\'', '"':
			q, h.quoted = c, true
		case '\\':
			h.quoted = true
			if i+1 < len(src) {
				i++
				b.WriteByte(src[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	for _, ph := range phs[next:] {
		if ph.start < i && ph.end > start {
			return h, i, fmt.Errorf("placeholder {{ %s }} in a here-document delimiter is not supported", ph.name)
		}
	}
	if b.Len() == 0 {
		return h, i, fmt.Errorf("here-document without a delimiter")
	}
	h.delim = b.String()
	return h, i, nil
}

// heredocs skips the bodies of the pending here-documents, which start at src[i:], and
// returns where the script goes on. Placeholders in a body are errors: a quoted body is
// literal, and an unquoted one would need a quoting of its own.
func heredocs(src string, i int, pending []heredoc, phs []placeholder, next *int, fail func(string, ...any) error) (int, error) {
	for _, h := range pending {
		bodyStart := i
		for i < len(src) {
			end := strings.IndexByte(src[i:], '\n')
			line := src[i:]
			if end >= 0 {
				line = src[i : i+end]
			}
			if h.strip {
				line = strings.TrimLeft(line, "\t")
			}
			if end < 0 {
				i = len(src)
			} else {
				i += end + 1
			}
			if line == h.delim {
				break
			}
		}
		for *next < len(phs) && phs[*next].start < i {
			if phs[*next].start >= bodyStart {
				return 0, fail("placeholder {{ %s }} inside a here-document is not supported; pass it as an argument or assign it to a variable first", phs[*next].name)
			}
			*next++
		}
	}
	return i, nil
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
