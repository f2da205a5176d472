package document

import (
	"errors"
	"strings"
)

// The built-in Tether-StartInteractiveCommand and Tether-StartNonInteractiveCommand
// documents run the words of their command parameter as argv, never through a shell.
//
// SplitWords is deliberately not a shell parser: a shell's operators are plain word
// characters here (";" is part of a word, "$(" expands nothing), which is no shell's
// grammar, so the mvdan parser that reads commands templates cannot do this job; the
// fuzz target checks the two agree where the grammars coincide.

// SplitWords splits s into words as a POSIX shell would, honouring single quotes, double
// quotes and backslashes, but expanding nothing: "$HOME", "*" and "$(x)" stay as they are.
// Shell operators are not special either: "a; b" is the words "a;" and "b".
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
