package seal

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func identity(t testing.TB) (secret, public string) {
	t.Helper()
	s, p, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "AGE-SECRET-KEY-1") || !strings.HasPrefix(p, "age1") {
		t.Fatalf("identity %.16s… / %s", s, p)
	}
	return s, p
}

func seal(t testing.TB, plain []byte, recipients ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Encrypt(&buf, recipients)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(ciphertext []byte, identities string) ([]byte, error) {
	r, err := Decrypt(bytes.NewReader(ciphertext), strings.NewReader(identities))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// plaintext returns n bytes that do not compress or repeat.
func plaintext(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	secret, public := identity(t)
	// Several MiB, not a multiple of age's 64 KiB chunk.
	plain := plaintext(5<<20 + 12345)
	ct := seal(t, plain, public)
	if bytes.Contains(ct, plain[:64]) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := open(ct, "# tether recordings\n\n"+secret+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes, want the %d encrypted", len(got), len(plain))
	}
	// Empty is a file too.
	if got, err := open(seal(t, nil, public), secret); err != nil || len(got) != 0 {
		t.Fatalf("empty round trip: %q, %v", got, err)
	}
}

func TestTwoRecipients(t *testing.T) {
	s1, p1 := identity(t)
	s2, p2 := identity(t)
	plain := plaintext(200 << 10)
	ct := seal(t, plain, p1, p2)
	for i, s := range []string{s1, s2} {
		got, err := open(ct, s)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("recipient %d: %d bytes, %v", i+1, len(got), err)
		}
	}
	// An identity file holding a stranger's key as well as one of ours still opens it.
	stranger, _ := identity(t)
	if got, err := open(ct, stranger+"\n"+s2+"\n"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("identity file with a stranger's key first: %v", err)
	}
}

func TestRandomized(t *testing.T) {
	// age draws a new file key and nonce for each file: equal recordings never give equal
	// bytes, which is why the shipper's exactly-once rests on object keys.
	_, public := identity(t)
	plain := []byte("same session, shipped twice")
	if a, b := seal(t, plain, public), seal(t, plain, public); bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are identical")
	}
}

func TestWrongIdentity(t *testing.T) {
	_, public := identity(t)
	other, _ := identity(t)
	ct := seal(t, []byte("secret"), public)
	_, err := open(ct, other)
	if !errors.Is(err, ErrNoIdentityMatch) || !strings.Contains(err.Error(), "no identity matches") {
		t.Fatalf("err = %v, want ErrNoIdentityMatch", err)
	}
	if strings.Contains(err.Error(), other) {
		t.Fatal("error shows the secret key")
	}
}

func TestBadIdentities(t *testing.T) {
	_, public := identity(t)
	ct := seal(t, []byte("x"), public)
	for _, ids := range []string{"", "# only a comment\n", public, "AGE-SECRET-KEY-1NOTAKEY"} {
		_, err := open(ct, ids)
		if err == nil || !strings.HasPrefix(err.Error(), "read identities: ") {
			t.Errorf("identities %q: err = %v", ids, err)
		}
	}
}

func TestCorrupted(t *testing.T) {
	secret, public := identity(t)
	plain := plaintext(300 << 10) // five chunks
	ct := seal(t, plain, public)
	hdr := bytes.Index(ct, []byte("\n---")) // the header's MAC line
	if hdr < 0 {
		t.Fatal("no header in the age file")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(ct)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name string
		ct   []byte
	}{
		{"truncated by one byte", ct[:len(ct)-1]},
		{"truncated mid-payload", ct[:len(ct)-(len(ct)-hdr)/5]},
		{"last chunk dropped", ct[:len(ct)-(300<<10-4*64<<10)-16]},
		{"header only", ct[:hdr+50]},
		{"truncated in the header", ct[:hdr/2]},
		{"byte flipped in the header", flip(hdr / 2)},
		{"byte flipped in the first chunk", flip(hdr + 100)},
		{"byte flipped in the last chunk", flip(len(ct) - 10)},
		{"byte flipped in a tag", flip(len(ct) - 1)},
		{"empty", nil},
		{"not age", []byte("hello, world\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := open(tc.ct, secret)
			if err == nil {
				t.Fatalf("decrypted %d bytes of a corrupted file", len(got))
			}
			if !strings.HasPrefix(err.Error(), "decrypt: ") {
				t.Errorf("err = %v, want it named as a decryption failure", err)
			}
		})
	}
}

func TestParseRecipients(t *testing.T) {
	secret, public := identity(t)
	_, public2 := identity(t)
	recs, err := ParseRecipients([]string{public, " " + public2 + "\n"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("ParseRecipients = %d, %v", len(recs), err)
	}
	// The last character changed: the bech32 checksum no longer holds.
	last := "q"
	if strings.HasSuffix(public, "q") {
		last = "p"
	}
	bad := public[:len(public)-1] + last
	for _, tc := range []struct {
		name string
		keys []string
		want string
	}{
		{"none", nil, "no recipients"},
		{"empty", []string{public, "  "}, "recipient 2: empty"},
		{"secret key", []string{secret}, "recipient 1: is a secret key"},
		{"bad checksum", []string{bad}, "recipient 1 " + `"` + bad[:16] + `…": malformed`},
		{"ssh key", []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"}, `recipient 1 "ssh-ed25519 AAAA…": not an age public key`},
		{"post-quantum", []string{"age1pq1" + strings.Repeat("q", 50)}, "post-quantum recipients are not supported"},
		{"short", []string{"age1x"}, `recipient 1 "age1x": malformed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecipients(tc.keys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret[16:]) {
				t.Fatal("error shows the secret key")
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d bytes: %s", len(err.Error()), err)
			}
		})
	}
	// Encrypt checks its recipients the same way.
	if _, err := Encrypt(io.Discard, []string{"age1nope"}); err == nil || !strings.Contains(err.Error(), "recipient 1") {
		t.Fatalf("Encrypt with a bad recipient: %v", err)
	}
}
