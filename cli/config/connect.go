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

// RefusedError is Connect's error when the broker rejected the user's key: it knows the
// key as no user's.
type RefusedError struct {
	User       string
	PublicKey  string
	SeedFile   string
	ConfigFile string // "" when the config was not loaded from a file
	Err        error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the broker refused the key in %s (public key %s): it is not user %s's, nor any user's it knows%s",
		e.SeedFile, e.PublicKey, e.User, inConfig(e.ConfigFile))
}

func (e *RefusedError) Unwrap() error { return e.Err }

// MismatchError is Connect's error when the broker accepted the key, but as another
// user's than the config's: every request would be refused (and wait for no answer).
type MismatchError struct {
	User       string
	PublicKey  string
	SeedFile   string
	ConfigFile string
	Err        error
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the key in %s (public key %s) is not user %s's: the broker knows it as another user's%s",
		e.SeedFile, e.PublicKey, e.User, inConfig(e.ConfigFile))
}

func (e *MismatchError) Unwrap() error { return e.Err }

func inConfig(path string) string {
	if path == "" {
		return ""
	}
	return " (config " + path + ")"
}

// Connect opens a NATS connection to the broker authenticated with the user's NKEY and
// using the user's inbox prefix, and checks that the broker knows the key as the
// config's user. opts are applied after Tether's own options.
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
			return nil, &RefusedError{User: c.User, PublicKey: pub, SeedFile: c.SeedPath(), ConfigFile: c.path, Err: err}
		}
		return nil, fmt.Errorf("connect to %s: %w", c.BrokerURL, err)
	}
	if err := c.checkUser(nc); err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrPermissionViolation) {
			return nil, &MismatchError{User: c.User, PublicKey: pub, SeedFile: c.SeedPath(), ConfigFile: c.path, Err: err}
		}
		return nil, fmt.Errorf("connect to %s: %w", c.BrokerURL, err)
	}
	return nc, nil
}

// checkUser subscribes once in the config's user's inbox, which only that user may: the
// broker refuses it at once to a key that is another user's, where a request would go
// unanswered until its timeout. The refusal is not printed as nats.go would.
func (c *Config) checkUser(nc *nats.Conn) error {
	prev := nc.Opts.AsyncErrorCB
	nc.SetErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})
	defer nc.SetErrorHandler(prev) // the callback of an error is chosen when it arrives
	subject := subjects.UserInbox(c.User) + ".tether-check"
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := nc.FlushTimeout(nc.Opts.Timeout); err != nil {
		return err
	}
	if err := nc.LastError(); errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), subject) {
		return err
	}
	return nil
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
