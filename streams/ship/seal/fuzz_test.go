package seal

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzDecrypt feeds Decrypt arbitrary files: it must fail cleanly, never panic, and never
// return plaintext for anything but a genuine file for the identity.
func FuzzDecrypt(f *testing.F) {
	secret, public := identity(f)
	for _, plain := range [][]byte{nil, []byte("hello"), plaintext(70 << 10)} {
		ct := seal(f, plain, public)
		f.Add(ct)
		f.Add(ct[:len(ct)/2])
	}
	f.Add([]byte("age-encryption.org/v1\n-> X25519 \n--- \n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decrypt(bytes.NewReader(data), strings.NewReader(secret))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		_, _ = io.Copy(io.Discard, r)
	})
}
