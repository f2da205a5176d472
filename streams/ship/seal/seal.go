package seal

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// ErrNoIdentityMatch is returned by Decrypt when none of the identities is a recipient of
// the file.
var ErrNoIdentityMatch = errors.New("no identity matches any of the file's recipients")

// Encrypt returns a writer that encrypts to the recipients (age X25519 public keys
// "age1…") and writes the age file to dst. Close finishes the file; it does not close dst.
func Encrypt(dst io.Writer, recipients []string) (io.WriteCloser, error) {
	recs, err := ParseRecipients(recipients)
	if err != nil {
		return nil, err
	}
	w, err := age.Encrypt(dst, recs...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return w, nil
}

// Decrypt reads an age file from src with one of the identities: an identity file's
// contents, one "AGE-SECRET-KEY-1…" per line, with blank lines and "#" comments ignored.
//
// The header is checked before Decrypt returns. The payload is authenticated chunk by
// chunk as it is read: every byte returned is genuine, but only a read that ends in io.EOF
// proves the file whole; a damaged or truncated file ends in an error instead.
func Decrypt(src io.Reader, identities io.Reader) (io.Reader, error) {
	ids, err := age.ParseIdentities(identities)
	if err != nil {
		// age keeps key material out of its parse errors.
		return nil, fmt.Errorf("read identities: %w", err)
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, fmt.Errorf("decrypt: %w", ErrNoIdentityMatch)
		}
		return nil, fmt.Errorf("decrypt: not an age file, or a damaged one: %w", err)
	}
	return &payload{r: r}, nil
}

// payload names the failure of a damaged payload; io.EOF passes through untouched.
type payload struct{ r io.Reader }

func (p *payload) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decrypt: payload damaged or truncated: %w", err)
	}
	return n, err
}

// ParseRecipients parses age X25519 public keys ("age1…"). An error names the bad key by
// its position and its first characters; a key that looks secret is never echoed.
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	if len(keys) == 0 {
		return nil, errors.New("no recipients: give at least one age public key (age1…)")
	}
	recs := make([]age.Recipient, 0, len(keys))
	for i, k := range keys {
		k = strings.TrimSpace(k)
		switch {
		case k == "":
			return nil, fmt.Errorf("recipient %d: empty", i+1)
		case strings.HasPrefix(strings.ToUpper(k), "AGE-SECRET-KEY-"):
			return nil, fmt.Errorf("recipient %d: is a secret key (AGE-SECRET-KEY-…); give its public key (age1…), as age-keygen -y prints it", i+1)
		case strings.HasPrefix(k, "age1pq1"):
			return nil, fmt.Errorf("recipient %d %s: post-quantum recipients are not supported; give an X25519 public key (age1…)", i+1, truncate(k))
		case !strings.HasPrefix(k, "age1"):
			return nil, fmt.Errorf("recipient %d %s: not an age public key (age1…)", i+1, truncate(k))
		}
		r, err := age.ParseX25519Recipient(k)
		if err != nil {
			// age's error quotes the whole key; ours names it briefly.
			return nil, fmt.Errorf("recipient %d %s: malformed age X25519 public key", i+1, truncate(k))
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// GenerateIdentity returns a new X25519 identity ("AGE-SECRET-KEY-1…") and its public
// key ("age1…").
func GenerateIdentity() (secret, public string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", fmt.Errorf("generate identity: %w", err)
	}
	return id.String(), id.Recipient().String(), nil
}

// truncate quotes the start of a key for an error message.
func truncate(k string) string {
	const keep = 16
	if r := []rune(k); len(r) > keep {
		return fmt.Sprintf("%q", string(r[:keep])+"…")
	}
	return fmt.Sprintf("%q", k)
}
