package cast

import (
	"unicode/utf8"
)

// utf8Stream decodes one byte stream, delivered in chunks, into valid UTF-8 text.
type utf8Stream struct {
	held [utf8.UTFMax - 1]byte
	n    int
	buf  []byte
}

// text returns the valid UTF-8 rendering of the held-back bytes followed by p, holding
// back an incomplete trailing sequence for the next call.
func (u *utf8Stream) text(p []byte) string {
	b := p
	if u.n > 0 {
		u.buf = append(append(u.buf[:0], u.held[:u.n]...), p...)
		b = u.buf
	}
	cut := incompleteTail(b)
	s := validUTF8(b[:cut])
	u.n = copy(u.held[:], b[cut:])
	return s
}

// flush returns the held-back bytes rendered as if the stream ended there.
func (u *utf8Stream) flush() string {
	s := validUTF8(u.held[:u.n])
	u.n = 0
	return s
}

// incompleteTail returns where the incomplete UTF-8 sequence that ends b begins: len(b) if
// b ends with a complete character or with bytes that can never become one.
func incompleteTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}

// validUTF8 returns b as a string with every byte that is not part of a valid UTF-8
// encoding replaced by U+FFFD: one replacement per byte.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return string(out)
}
