package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/streams/secretfile"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// RefusedError is Connect's error when the broker rejected the user's key.
type RefusedError struct {
	User      string
	PublicKey string
	Err       error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the broker refused user %s's key: %v (public key %s)", e.User, e.Err, e.PublicKey)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Connect opens a NATS connection to the broker authenticated with the user's NKEY and
// using the user's inbox prefix. opts are applied after Tether's own options.
func (c *Config) Connect(opts ...nats.Option) (*nats.Conn, error) {
	kp, err := c.keyPair()
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("read nkey seed %s: %w", c.SeedPath(), err)
	}
	all := append([]nats.Option{
		nats.Nkey(pub, kp.Sign),
		nats.CustomInboxPrefix(subjects.UserInbox(c.User)),
		nats.Name("tether " + c.User),
	}, opts...)
	if ca := c.CAPath(); ca != "" {
		all = append(all, nats.RootCAs(ca))
	}
	nc, err := nats.Connect(c.BrokerURL, all...)
	if err != nil {
		if isAuthError(err) {
			return nil, &RefusedError{User: c.User, PublicKey: pub, Err: err}
		}
		return nil, fmt.Errorf("connect to %s: %w", c.BrokerURL, err)
	}
	return nc, nil
}

func (c *Config) keyPair() (nkeys.KeyPair, error) {
	path := c.SeedPath()
	data, err := secretfile.Read(path, "nkey seed")
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return nil, fmt.Errorf("read nkey seed %s: %w", path, err)
	}
	return kp, nil
}

func isAuthError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}
