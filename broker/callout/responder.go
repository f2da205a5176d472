package callout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// xkeyHeader carries the server's public xkey on an encrypted request
// (server.AuthRequestXKeyHeader).
const xkeyHeader = "Nats-Server-Xkey"

// Resolver tells the callout who a key belongs to (principals.Directory, as for the
// embedded broker's authenticator).
type Resolver interface {
	Resolve(nkey string) (principals.Identity, bool)
	CheckActivation(id, code string) bool
}

// Responder is the auth-callout service: it answers the server's authorization requests
// by placing each client in its principal's account with its permissions, the way the
// embedded broker's authenticator does, but as a user JWT the account's key signs.
type Responder struct {
	keys     *Keys
	resolver Resolver
	accounts *Registry
	log      *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	sub    *nats.Subscription
	closed bool
	wg     sync.WaitGroup
}

// NewResponder returns a responder that looks keys up in res and makes accounts with reg.
func NewResponder(k *Keys, res Resolver, reg *Registry, log *slog.Logger) *Responder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Responder{keys: k, resolver: res, accounts: reg, log: log, ctx: ctx, cancel: cancel}
}

// Start answers the requests that reach nc, the callout service's connection (a user of
// CalloutUserJWT in the auth account), until Close.
func (r *Responder) Start(nc *nats.Conn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.sub != nil {
		return errors.New("callout responder already started or closed")
	}
	sub, err := nc.Subscribe(authRequestSubject, r.handle)
	if err != nil {
		return fmt.Errorf("subscribe to authorization requests: %w", err)
	}
	r.sub = sub
	return nil
}

// Close stops answering and waits for the answer in progress. It is idempotent.
func (r *Responder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	sub := r.sub
	r.mu.Unlock()
	r.cancel()
	var err error
	if sub != nil {
		err = sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		}
	}
	r.wg.Wait()
	return err
}

func (r *Responder) handle(m *nats.Msg) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()

	resp, err := r.Respond(r.ctx, m.Data, m.Header.Get(xkeyHeader))
	if err != nil {
		// No answer we could sign: an empty one refuses the client at once.
		r.log.Error("authorization request not answered", logkey.Err, err)
		resp = nil
	}
	if err := m.Respond(resp); err != nil {
		r.log.Error("authorization response not sent", logkey.Err, err)
	}
}

// Respond answers one authorization request as the server sent it: data, encrypted to
// the callout's XKey when serverXKey (the request's Nats-Server-Xkey header) is set. It
// returns the response to send, encrypted back to the server if the request was; an
// error only when there is no response it can sign.
func (r *Responder) Respond(ctx context.Context, data []byte, serverXKey string) ([]byte, error) {
	switch {
	case serverXKey != "" && r.keys.XKey == nil:
		return nil, errors.New("encrypted request, but the callout has no xkey")
	case serverXKey == "" && r.keys.XKey != nil:
		return nil, errors.New("request in clear, but the auth account asks for encryption")
	case serverXKey != "":
		var err error
		if data, err = r.keys.XKey.Open(data, serverXKey); err != nil {
			return nil, fmt.Errorf("decrypt request: %w", err)
		}
	}
	req, err := jwt.DecodeAuthorizationRequestClaims(string(data))
	if err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	if serverXKey != "" && req.Server.XKey != serverXKey {
		return nil, errors.New("request's xkey header and claims disagree")
	}
	resp, refused := r.Authorize(ctx, req)
	if resp == "" {
		return nil, refused
	}
	if refused != nil {
		var rf refusal
		if errors.As(refused, &rf) {
			r.log.Warn("connection refused", logkey.NKey, req.ConnectOptions.Nkey, logkey.Host, req.ClientInformation.Host, logkey.Err, refused)
		} else {
			r.log.Error("connection refused", logkey.NKey, req.ConnectOptions.Nkey, logkey.Host, req.ClientInformation.Host, logkey.Err, refused)
		}
	}
	if serverXKey == "" {
		return []byte(resp), nil
	}
	sealed, err := r.keys.XKey.Seal([]byte(resp), serverXKey)
	if err != nil {
		return nil, fmt.Errorf("encrypt response: %w", err)
	}
	return sealed, nil
}

// Authorize decides one request. It returns the signed response — a user JWT that places
// the client in its principal's account with its permissions, or an error — and, when the
// client is refused, why. An empty response means none could be signed (refused says why).
func (r *Responder) Authorize(ctx context.Context, req *jwt.AuthorizationRequestClaims) (response string, refused error) {
	rc := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	rc.Audience = req.Server.ID
	user, err := r.place(ctx, req)
	if err == nil {
		rc.Jwt = user
	} else {
		refused = err
		rc.Error = "not authorized"
		var rf refusal
		if errors.As(err, &rf) {
			rc.Error = rf.Error()
		}
	}
	s, err := rc.Encode(r.keys.Auth)
	if err != nil {
		return "", fmt.Errorf("sign authorization response: %w", err)
	}
	return s, refused
}

// refusal is a reason to refuse a client that may go back to the server's log as is.
type refusal struct{ msg string }

func (e refusal) Error() string { return e.msg }

func refuse(format string, args ...any) error { return refusal{fmt.Sprintf(format, args...)} }

// place returns the signed user JWT for the client of req, as natsembed's authenticator
// decides: the NKEY signature of the server's nonce, the key's principal (or an
// activation's enrollment), its grant, and its account, made if need be.
func (r *Responder) place(ctx context.Context, req *jwt.AuthorizationRequestClaims) (string, error) {
	vr := jwt.CreateValidationResults()
	req.Validate(vr)
	if vr.IsBlocking(true) {
		return "", refuse("invalid request: %v", vr.Errors())
	}
	if req.Issuer != req.Server.ID {
		return "", refuse("request not signed by the server it names")
	}
	opts := req.ConnectOptions
	if opts.Nkey == "" {
		return "", refuse("no nkey presented")
	}
	if !principals.VerifyNonce(opts.Nkey, opts.SignedNonce, []byte(req.ClientInformation.Nonce)) {
		return "", refuse("bad nkey signature")
	}
	id, ok := r.resolver.Resolve(opts.Nkey)
	if !ok {
		if opts.Username == "" || opts.Password == "" {
			return "", refuse("unknown nkey")
		}
		if subjects.ValidName(opts.Username) != nil || !r.resolver.CheckActivation(opts.Username, opts.Password) {
			return "", refuse("enrollment with activation %.64q refused: wrong id or code, expired, or used up", opts.Username)
		}
		id = principals.Identity{Kind: principals.KindEnrollment, Name: opts.Username}
	}
	if id.Kind == principals.KindControlPlane {
		return r.controlPlane(req.UserNkey)
	}
	g, ok := id.Grant(opts.Nkey)
	if !ok {
		return "", refuse("key of unknown kind %q", id.Kind)
	}
	if err := r.accounts.Ensure(ctx, g.Account); err != nil {
		return "", fmt.Errorf("account %s: %w", g.Account.Name, err)
	}
	kp, pub, err := r.keys.accountPair(g.Account.Name)
	if err != nil {
		return "", err
	}
	return UserClaims(g, req.UserNkey, pub).Encode(kp)
}

// controlPlane places the control plane in the service account, with every permission.
func (r *Responder) controlPlane(userPub string) (string, error) {
	svc, svcPub, err := r.keys.accountPair(accounts.Service)
	if err != nil {
		return "", err
	}
	uc := jwt.NewUserClaims(userPub)
	uc.Name = "control-plane"
	uc.IssuerAccount = svcPub
	return uc.Encode(svc)
}
