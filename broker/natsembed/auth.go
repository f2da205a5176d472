package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tetherhq/tether/broker/logsample"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Resolver tells the auth hook who a key belongs to.
type Resolver interface {
	Resolve(nkey string) (principals.Identity, bool)
	CheckActivation(id, code string) bool
	// ActivationLimit is how many registrations an activation allows.
	ActivationLimit(id string) int
}

// authenticator is the server's CustomClientAuthentication: it verifies the NKEY signature
// of the server's nonce, looks the key up, and registers the connection in its
// principal's account (streams/accounts) with that principal's permissions. Anything it
// cannot place is refused, and a source address that keeps failing is slowed down.
type authenticator struct {
	resolver Resolver
	log      *slog.Logger
	accounts *accountSet
	backoff  *backoff
	sampled  *logsample.Sampler
	// placing holds the count of an account's connections and the registration of a new
	// one together: connections made at once with one key cannot pass its limit.
	placing sync.Mutex
}

var _ server.Authentication = (*authenticator)(nil)

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	source := sourceOf(c)
	who, err := a.check(c)
	if err == nil {
		return true
	}
	if errors.Is(err, errNotReady) {
		return false // the client retries; no fault of its own
	}
	delay, failures := a.backoff.failed(source)
	if ok, suppressed := a.sampled.Allow("refused " + source); ok {
		a.log.Warn("connection refused", logkey.Remote, addr(c), logkey.Principal, who, logkey.Err, err,
			logkey.RecentFailures, failures, logkey.LogsSuppressed, suppressed, logkey.Delay, delay)
	}
	a.backoff.wait(delay)
	return false
}

// check places the connection, or says why not and who it claimed to be.
func (a *authenticator) check(c server.ClientAuthentication) (who string, err error) {
	svc := a.accounts.service()
	if svc == nil {
		return "", errNotReady
	}
	opts := c.GetOpts()
	if opts.Nkey == "" {
		return "", fmt.Errorf("no nkey presented")
	}
	who = opts.Nkey
	if !principals.VerifyNonce(opts.Nkey, opts.Sig, c.GetNonce()) {
		return who, fmt.Errorf("bad nkey signature")
	}
	id, ok := a.resolver.Resolve(opts.Nkey)
	if !ok {
		if opts.Username == "" || opts.Password == "" {
			return who, fmt.Errorf("unknown nkey")
		}
		if subjects.ValidName(opts.Username) != nil || !a.resolver.CheckActivation(opts.Username, opts.Password) {
			return who, fmt.Errorf("enrollment with activation %.64q refused: wrong id or code, expired, or used up", opts.Username)
		}
		id = principals.Identity{Kind: principals.KindEnrollment, Name: opts.Username}
	}
	if id.Kind == principals.KindControlPlane {
		c.RegisterUser(&server.User{Username: "control-plane", Account: svc}) // every permission
		return "control-plane", nil
	}
	if !a.accounts.waitOpen(OpenWait) {
		return "", errNotReady
	}
	g, ok := id.Grant(opts.Nkey)
	if !ok {
		return who, fmt.Errorf("key of unknown kind %q", id.Kind)
	}
	who = string(g.Account.Kind) + ":" + id.Name
	a.placing.Lock()
	defer a.placing.Unlock()
	if g.Account.Kind == accounts.KindEnrollment {
		if err := a.accounts.enrollmentRoom(g.Account, a.resolver.ActivationLimit(g.Account.Activation)); err != nil {
			return who, err
		}
	}
	acc, err := a.accounts.ensure(g.Account)
	if err != nil {
		a.log.Error("account set-up failed", logkey.Account, g.Account.Name, logkey.Err, err)
		return who, err
	}
	if n := acc.NumLocalConnections(); n >= g.Account.Limits.Conns {
		return who, fmt.Errorf("already %d connections with this key; the limit is %d", n, g.Account.Limits.Conns)
	}
	c.RegisterUser(&server.User{Username: who, Account: acc, Permissions: convert(g.Permissions)})
	if id.Kind == principals.KindEnrollment {
		a.log.Info("enrollment connection", logkey.ActivationID, id.Name, logkey.NKey, opts.Nkey, logkey.Remote, addr(c))
	}
	return who, nil
}

func convert(p accounts.Permissions) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}
}

func addr(c server.ClientAuthentication) string {
	if a := c.RemoteAddress(); a != nil {
		return a.String()
	}
	return "in-process"
}

// sourceOf is the address failures are counted by: the remote IP, without its port.
func sourceOf(c server.ClientAuthentication) string {
	a := c.RemoteAddress()
	if a == nil {
		return "in-process"
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}
