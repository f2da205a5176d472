package natsembed

import (
	"encoding/base64"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/subjects"
)

// Resolver tells the auth hook who a key belongs to.
type Resolver interface {
	Resolve(nkey string) (principals.Identity, bool)
	CheckActivation(id, code string) bool
}

// Authenticator is the server's CustomClientAuthentication: it verifies the NKEY signature
// of the server's nonce, looks the key up, and registers the connection with the subject
// permissions of its principal. Anything it cannot place is refused.
type Authenticator struct {
	Resolver Resolver
	Logger   *slog.Logger
}

var _ server.Authentication = (*Authenticator)(nil)

// Check implements server.Authentication.
func (a *Authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	opts := c.GetOpts()
	log := a.Logger.With("remote", addr(c))
	if opts.Nkey == "" {
		log.Info("connection refused: no nkey presented")
		return false
	}
	if !verify(opts.Nkey, opts.Sig, c.GetNonce()) {
		log.Warn("connection refused: bad nkey signature", "nkey", opts.Nkey)
		return false
	}
	id, ok := a.Resolver.Resolve(opts.Nkey)
	if !ok {
		if opts.Username != "" && opts.Password != "" &&
			subjects.ValidName(opts.Username) == nil && a.Resolver.CheckActivation(opts.Username, opts.Password) {
			log.Info("enrollment connection", "activation_id", opts.Username, "nkey", opts.Nkey)
			c.RegisterUser(&server.User{
				Username:    "enroll:" + opts.Username,
				Permissions: convert(subjects.ForEnrollment(opts.Username, opts.Nkey)),
			})
			return true
		}
		log.Info("connection refused: unknown nkey", "nkey", opts.Nkey)
		return false
	}
	switch id.Kind {
	case principals.KindControlPlane:
		c.RegisterUser(&server.User{Username: "control-plane"}) // nil permissions: everything
	case principals.KindUser:
		c.RegisterUser(&server.User{Username: id.Name, Permissions: convert(subjects.ForUser(id.Name, id.Admin))})
	case principals.KindAgent:
		c.RegisterUser(&server.User{Username: "agent:" + id.Name, Permissions: convert(subjects.ForAgent(id.Name))})
	case principals.KindShipper:
		c.RegisterUser(&server.User{Username: "shipper:" + id.Name, Permissions: convert(subjects.ForShipper(id.Name))})
	default:
		return false
	}
	return true
}

func verify(pub, sig string, nonce []byte) bool {
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

func convert(p subjects.Permissions) *server.Permissions {
	sp := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish, Deny: p.PublishDeny},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}
	if p.Responses {
		sp.Response = &server.ResponsePermission{MaxMsgs: 1}
	}
	return sp
}

func addr(c server.ClientAuthentication) string {
	if a := c.RemoteAddress(); a != nil {
		return a.String()
	}
	return ""
}
