package cast

import (
	"bufio"
	"strings"
	"unicode/utf8"
)

// maxLogLine bounds, in runes, a line the log holds: a longer one is broken there.
const maxLogLine = 64 << 10

// Control characters the log interprets.
const (
	bel = 0x07
	bs  = 0x08
	can = 0x18
	sub = 0x1a
	esc = 0x1b
	del = 0x7f
	st  = 0x9c // C1 string terminator
)

// textLog builds the plain-text log a line at a time, keeping a cursor on the line.
type textLog struct {
	w    *bufio.Writer
	line []rune
	col  int
	out  []byte
}

func (l *textLog) put(c rune) {
	for len(l.line) < l.col {
		l.line = append(l.line, ' ')
	}
	if l.col < len(l.line) {
		l.line[l.col] = c
	} else {
		l.line = append(l.line, c)
	}
	l.col++
	if l.col >= maxLogLine {
		l.newline()
	}
}

func (l *textLog) carriageReturn() { l.col = 0 }

func (l *textLog) backspace() {
	if l.col > 0 {
		l.col--
	}
}

// erase is CSI n K: erase from the cursor to the end of the line (0), from the start of
// the line to the cursor (1), or the whole line (2).
func (l *textLog) erase(n int) {
	switch n {
	case 0:
		if l.col < len(l.line) {
			l.line = l.line[:l.col]
		}
	case 1:
		for i := 0; i <= l.col && i < len(l.line); i++ {
			l.line[i] = ' '
		}
	case 2:
		l.line = l.line[:0]
	}
}

// newline writes out the current line and starts the next.
func (l *textLog) newline() {
	end := len(l.line)
	for end > 0 && l.line[end-1] == ' ' {
		end--
	}
	l.out = l.out[:0]
	for _, c := range l.line[:end] {
		l.out = utf8.AppendRune(l.out, c)
	}
	l.out = append(l.out, '\n')
	l.w.Write(l.out) // bufio.Writer: the error is sticky and reported by Flush
	l.line = l.line[:0]
	l.col = 0
}

// note writes a line of the renderer's own, after the current line if it has text.
func (l *textLog) note(text string) {
	if len(l.line) > 0 {
		l.newline()
	}
	text = strings.TrimRight(text, "\n")
	for line := range strings.SplitSeq(text, "\n") {
		l.w.WriteString("[tether] ")
		l.w.WriteString(strings.Map(dropControl, line))
		l.w.WriteByte('\n')
	}
}

// close ends the last line, if it has text.
func (l *textLog) close() {
	if len(l.line) > 0 {
		l.newline()
	}
}

func dropControl(c rune) rune {
	if isControl(c) && c != '\t' {
		return -1
	}
	return c
}

func isControl(c rune) bool { return c < 0x20 || c == del || (c >= 0x80 && c <= 0x9f) }

// escState is where a stripper is in an escape sequence.
type escState uint8

const (
	ground   escState = iota
	escape            // after ESC
	escInter          // ESC and intermediate bytes
	csi               // ESC [ and parameter or intermediate bytes
	str               // inside an OSC, DCS, SOS, PM or APC string
	strEsc            // ESC inside a string: ST if a backslash follows
)

// stripper removes ECMA-48 escape sequences and controls from one output stream, holding
// its state across calls, and passes what the log keeps to a textLog.
type stripper struct {
	state escState
	osc   bool // the string is an OSC, which BEL also ends
	// The CSI parameters, as far as CSI K needs them.
	param  int
	simple bool // no private marker, intermediates, or more than one parameter
}

func (s *stripper) feed(text string, l *textLog) {
	for _, c := range text {
		s.rune(c, l)
	}
}

func (s *stripper) rune(c rune, l *textLog) {
	switch s.state {
	case ground:
		switch {
		case c == '\n':
			l.newline()
		case c == '\r':
			l.carriageReturn()
		case c == bs:
			l.backspace()
		case c == '\t':
			l.put(c)
		case c == esc:
			s.state = escape
		case isControl(c):
		default:
			l.put(c)
		}
	case escape:
		switch {
		case c == '[':
			s.state, s.param, s.simple = csi, 0, true
		case c == ']':
			s.state, s.osc = str, true
		case c == 'P' || c == 'X' || c == '^' || c == '_':
			s.state, s.osc = str, false
		case c >= 0x20 && c <= 0x2f:
			s.state = escInter
		case c >= 0x30 && c <= 0x7e:
			s.state = ground
		default:
			s.control(c, l)
		}
	case escInter:
		switch {
		case c >= 0x20 && c <= 0x2f:
		case c >= 0x30 && c <= 0x7e:
			s.state = ground
		default:
			s.control(c, l)
		}
	case csi:
		switch {
		case c >= '0' && c <= '9':
			if s.param < 1<<16 {
				s.param = s.param*10 + int(c-'0')
			}
		case c >= 0x3a && c <= 0x3f: // ; : < = > ?
			s.simple = false
		case c >= 0x20 && c <= 0x2f:
			s.simple = false
		case c >= 0x40 && c <= 0x7e:
			if c == 'K' && s.simple {
				l.erase(s.param)
			}
			s.state = ground
		default:
			s.control(c, l)
		}
	case str:
		switch {
		case c == esc:
			s.state = strEsc
		case c == bel && s.osc, c == st, c == can, c == sub:
			s.state = ground
		}
	case strEsc:
		if c == '\\' {
			s.state = ground
			return
		}
		// ESC begins a new sequence and so ends the string.
		s.state = escape
		s.rune(c, l)
	}
}

// control handles, inside ESC and CSI sequences, what is not part of the sequence.
func (s *stripper) control(c rune, l *textLog) {
	switch {
	case c == esc:
		s.state = escape
	case c == can || c == sub:
		s.state = ground
	case c < 0x20 || c == del:
		// Executed by a terminal without ending the sequence; nothing for the log.
	default:
		// Not ASCII: the sequence is malformed. Abandon it and keep the character.
		s.state = ground
		s.rune(c, l)
	}
}
