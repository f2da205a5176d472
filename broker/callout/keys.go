package callout

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/streams/accounts"
)

// SystemAccount is the name (the claims' name tag) of the deployment's system account.
const SystemAccount = "SYS"

// Keys are the keys of a Tether deployment in operator mode. Whoever holds them can sign
// any of its accounts and users: the control plane, which runs the callout.
type Keys struct {
	// Operator is the operator's identity key: it signs the operator JWT and every account
	// JWT. (A deployment that keeps its identity key offline would list an operator
	// signing key in the operator JWT and sign with that; nothing else changes.)
	Operator nkeys.KeyPair
	// Auth is the auth account's key. The callout service connects in the auth account,
	// whose claims turn external authorization on, and it signs every callout response.
	Auth nkeys.KeyPair
	// Callout is the user key of the callout service's own connection: an "auth user",
	// which the server lets in without asking the callout.
	Callout nkeys.KeyPair
	// XKey, when set, is the curve key the server encrypts authorization requests to (the
	// auth account's claims publish it); nil: requests and responses travel in clear.
	XKey nkeys.KeyPair
	// AccountSecret (32 bytes) derives the key of every other account — system, service,
	// principals, gates — from the account's name: one secret to keep, not a key per
	// principal, and the same key after a restart.
	AccountSecret []byte
}

// NewKeys makes fresh keys, with an XKey if encrypt is set.
func NewKeys(encrypt bool) (*Keys, error) {
	k := &Keys{AccountSecret: make([]byte, 32)}
	var err error
	if k.Operator, err = nkeys.CreateOperator(); err != nil {
		return nil, fmt.Errorf("operator key: %w", err)
	}
	if k.Auth, err = nkeys.CreateAccount(); err != nil {
		return nil, fmt.Errorf("auth account key: %w", err)
	}
	if k.Callout, err = nkeys.CreateUser(); err != nil {
		return nil, fmt.Errorf("callout user key: %w", err)
	}
	if encrypt {
		if k.XKey, err = nkeys.CreateCurveKeys(); err != nil {
			return nil, fmt.Errorf("xkey: %w", err)
		}
	}
	if _, err := rand.Read(k.AccountSecret); err != nil {
		return nil, fmt.Errorf("account secret: %w", err)
	}
	return k, nil
}

// Account is the key of the account named name (accounts.Service, SystemAccount, a
// principal's or a gate's account name): an Ed25519 seed derived from AccountSecret and
// the name.
func (k *Keys) Account(name string) (nkeys.KeyPair, error) {
	if len(k.AccountSecret) < 32 {
		return nil, errors.New("account secret shorter than 32 bytes")
	}
	m := hmac.New(sha256.New, k.AccountSecret)
	m.Write([]byte("tether account key\x00" + name))
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteAccount, m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("account key of %s: %w", name, err)
	}
	return kp, nil
}

// AccountPub is the public key of the account named name: in operator mode, the
// account's name as the server knows it.
func (k *Keys) AccountPub(name string) (string, error) {
	_, pub, err := k.accountPair(name)
	return pub, err
}

// accountPair is the key of the account named name and its public key.
func (k *Keys) accountPair(name string) (nkeys.KeyPair, string, error) {
	kp, err := k.Account(name)
	if err != nil {
		return nil, "", err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, "", err
	}
	return kp, pub, nil
}

// ServicePub is the service account's public key.
func (k *Keys) ServicePub() (string, error) { return k.AccountPub(accounts.Service) }

func (k *Keys) authPub() (string, error) { return k.Auth.PublicKey() }
