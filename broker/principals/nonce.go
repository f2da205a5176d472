package principals

import (
	"encoding/base64"

	"github.com/nats-io/nkeys"
)

// VerifyNonce reports whether sig is the signature of nonce by the NKEY pub: how a client
// proves it holds the key it names, to the embedded broker's authenticator and to an
// auth-callout responder alike.
func VerifyNonce(pub, sig string, nonce []byte) bool {
	if len(nonce) == 0 || sig == "" {
		return false
	}
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	return kp.Verify(nonce, raw) == nil
}
