package callout

import (
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/streams/accounts"
)

// AuthAccount is the auth account's name tag.
const AuthAccount = "AUTH"

// OperatorJWT is the operator the servers trust; it names the system account.
func OperatorJWT(k *Keys) (string, error) {
	opPub, err := k.Operator.PublicKey()
	if err != nil {
		return "", err
	}
	sysPub, err := k.AccountPub(SystemAccount)
	if err != nil {
		return "", err
	}
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "tether"
	oc.SystemAccount = sysPub
	return oc.Encode(k.Operator)
}

// SystemClaims are the system account's: the server's own, through which account JWTs are
// pushed ($SYS.REQ.CLAIMS.UPDATE).
func SystemClaims(k *Keys) (*jwt.AccountClaims, error) {
	pub, err := k.AccountPub(SystemAccount)
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = SystemAccount
	return ac, nil
}

// AuthClaims are the auth account's: external authorization on, the callout service's
// user as its only auth user, allowed to place users in the accounts listed (public keys:
// the service account and every principal's), and the XKey if requests are encrypted.
// Users connecting with a plain NKEY land here first, by the server's default sentinel.
func AuthClaims(k *Keys, allowed []string) (*jwt.AccountClaims, error) {
	pub, err := k.authPub()
	if err != nil {
		return nil, err
	}
	callout, err := k.Callout.PublicKey()
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = AuthAccount
	ac.Authorization.AuthUsers.Add(callout)
	ac.Authorization.AllowedAccounts.Add(allowed...)
	if k.XKey != nil {
		if ac.Authorization.XKey, err = k.XKey.PublicKey(); err != nil {
			return nil, err
		}
	}
	return ac, nil
}

// SentinelJWT is the server's default sentinel (server.Options.DefaultSentinel, config
// default_sentinel): a bearer user of the auth account that may do nothing. A client that
// presents no JWT — a plain NKEY — is taken as this user, and because the auth account has
// external authorization, the server asks the callout about it (with the client's NKEY,
// signature and nonce) instead of letting it in.
func SentinelJWT(k *Keys) (string, error) {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	pub, err := ukp.PublicKey()
	if err != nil {
		return "", err
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = "sentinel"
	uc.BearerToken = true
	uc.Pub.Deny.Add(">")
	uc.Sub.Deny.Add(">")
	return uc.Encode(k.Auth)
}

// CalloutUserJWT is the callout service's own user, in the auth account: it receives the
// authorization requests and may publish nothing but one answer to each.
func CalloutUserJWT(k *Keys) (string, error) {
	pub, err := k.Callout.PublicKey()
	if err != nil {
		return "", err
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = "tether-callout"
	uc.Sub.Allow.Add(authRequestSubject)
	uc.Pub.Deny.Add(">")
	uc.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
	return uc.Encode(k.Auth)
}

// authRequestSubject is where the server sends authorization requests, in the auth
// account (server.AuthCalloutSubject).
const authRequestSubject = "$SYS.REQ.USER.AUTH"

// ServiceClaims are the service account's: JetStream, every export of
// accounts.ServiceExports (each requires an activation token, so that no account of a
// shared operator but a Tether principal's can import it), and an import of each export
// of each principal's account in principals, which is how the control plane's requests
// reach an agent.
func ServiceClaims(k *Keys, principals []accounts.Account) (*jwt.AccountClaims, error) {
	svcPub, err := k.ServicePub()
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(svcPub)
	ac.Name = accounts.Service
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1, MaxAckPending: -1}
	ac.Limits.LeafNodeConn = 0
	ac.Limits.DisallowBearer = true
	for _, e := range accounts.ServiceExports() {
		ex := &jwt.Export{Name: e.Subject, Subject: jwt.Subject(e.Subject), Type: jwt.Service, TokenReq: true}
		switch {
		case e.Stream:
			ex.Type = jwt.Stream
		case e.Streamed:
			ex.ResponseType = jwt.ResponseTypeStream
		}
		ac.Exports.Add(ex)
	}
	for _, p := range principals {
		kp, pub, err := k.accountPair(p.Name)
		if err != nil {
			return nil, err
		}
		for _, subj := range p.Exports {
			im, err := importFrom(pub, kp, svcPub, accounts.Import{Local: subj})
			if err != nil {
				return nil, fmt.Errorf("service account import of %s from %s: %w", subj, p.Name, err)
			}
			ac.Imports.Add(im)
		}
	}
	return ac, nil
}

// AccountClaims are the claims of a principal's account a: its imports from the service
// account (and, for an agent, from its gate), its exports to the service account, its
// session data exports (token required) and the session data imports of its pairs
// (accounts.SessionData: data, each from the account its From names), its limits, and no
// JetStream. An agent's gate has claims of its own (GateClaims).
func AccountClaims(k *Keys, a accounts.Account, data ...accounts.Import) (*jwt.AccountClaims, error) {
	pub, err := k.AccountPub(a.Name)
	if err != nil {
		return nil, err
	}
	svc, svcPub, err := k.accountPair(accounts.Service)
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = a.Name
	ac.Tags.Add("tether-kind:" + string(a.Kind))
	setLimits(ac, a.Limits)
	for _, i := range a.Imports {
		im, err := importFrom(svcPub, svc, pub, i)
		if err != nil {
			return nil, fmt.Errorf("account %s: import %s: %w", a.Name, i.Local, err)
		}
		ac.Imports.Add(im)
	}
	if a.Gate != nil {
		gate, gatePub, err := k.accountPair(a.Gate.Name)
		if err != nil {
			return nil, err
		}
		for _, i := range a.Gate.Ingress {
			im, err := importFrom(gatePub, gate, pub, i)
			if err != nil {
				return nil, fmt.Errorf("account %s: import %s from its gate: %w", a.Name, i.Local, err)
			}
			ac.Imports.Add(im)
		}
	}
	for _, i := range data {
		from, fromPub, err := k.accountPair(i.From)
		if err != nil {
			return nil, err
		}
		im, err := importFrom(fromPub, from, pub, i)
		if err != nil {
			return nil, fmt.Errorf("account %s: import %s from %s: %w", a.Name, i.Local, i.From, err)
		}
		ac.Imports.Add(im)
	}
	for _, subj := range a.Exports {
		ac.Exports.Add(&jwt.Export{Name: subj, Subject: jwt.Subject(subj), Type: jwt.Service, TokenReq: true})
	}
	for _, subj := range a.DataExports {
		ac.Exports.Add(&jwt.Export{Name: subj, Subject: jwt.Subject(subj), Type: jwt.Stream, TokenReq: true})
	}
	return ac, nil
}

// GateClaims are the claims of the gate of agent account a: no connections, imports of
// the session subjects from the service account, exports of the ingress to the agent's
// account, and one mapping per frame kind of each running session (sessions, each from
// accounts.SessionMappings). Starting or ending a session is an update of these claims.
func GateClaims(k *Keys, a accounts.Account, sessions ...[]accounts.Mapping) (*jwt.AccountClaims, error) {
	g := a.Gate
	if g == nil {
		return nil, fmt.Errorf("account %s has no gate", a.Name)
	}
	pub, err := k.AccountPub(g.Name)
	if err != nil {
		return nil, err
	}
	svc, svcPub, err := k.accountPair(accounts.Service)
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = g.Name
	ac.Tags.Add("tether-kind:gate")
	setLimits(ac, accounts.Limits{}) // nobody connects to a gate
	for _, i := range g.Imports {
		im, err := importFrom(svcPub, svc, pub, i)
		if err != nil {
			return nil, fmt.Errorf("gate %s: import %s: %w", g.Name, i.Local, err)
		}
		ac.Imports.Add(im)
	}
	for _, i := range g.Ingress {
		subj := i.RemoteSubject()
		ac.Exports.Add(&jwt.Export{Name: subj, Subject: jwt.Subject(subj), Type: jwt.Service, TokenReq: true})
	}
	for _, ms := range sessions {
		for _, m := range ms {
			ac.Mappings[jwt.Subject(m.From)] = []jwt.WeightedMapping{{Subject: jwt.Subject(m.To), Weight: 100}}
		}
	}
	return ac, nil
}

// UserClaims are the claims of a principal's connection: the user key the server chose
// for it (userPub), its account (accountPub, also the issuer account, so that the claims
// may be signed by an account signing key), and its permissions as allow lists. An empty
// list denies everything (an empty allow list in a user JWT would allow everything). No
// response permissions.
func UserClaims(g accounts.Grant, userPub, accountPub string) *jwt.UserClaims {
	uc := jwt.NewUserClaims(userPub)
	uc.Name = g.Account.Name
	uc.IssuerAccount = accountPub
	uc.Pub.Allow.Add(g.Permissions.Publish...)
	if len(g.Permissions.Publish) == 0 {
		uc.Pub.Deny.Add(">")
	}
	uc.Sub.Allow.Add(g.Permissions.Subscribe...)
	if len(g.Permissions.Subscribe) == 0 {
		uc.Sub.Deny.Add(">")
	}
	return uc
}

func setLimits(ac *jwt.AccountClaims, l accounts.Limits) {
	ac.Limits.Conn = int64(l.Conns)
	ac.Limits.Subs = int64(l.Subs)
	ac.Limits.LeafNodeConn = 0
	ac.Limits.DisallowBearer = true
	// JetStream stays off: jwt.NewAccountClaims leaves its limits at zero.
}

// importFrom is the import of i by the account importerPub from the account exporterPub
// (whose key exporter signs the activation token the export requires). Remote is the
// exporter's subject, Local the importer's.
func importFrom(exporterPub string, exporter nkeys.KeyPair, importerPub string, i accounts.Import) (*jwt.Import, error) {
	typ := jwt.Service
	if i.Stream {
		typ = jwt.Stream
	}
	remote := i.RemoteSubject()
	im := &jwt.Import{Name: i.Local, Account: exporterPub, Subject: jwt.Subject(remote), Type: typ}
	if remote != i.Local {
		im.LocalSubject = jwt.RenamingSubject(i.Local)
	}
	// Service imports share the caller's connection info (its address: policy's
	// source_ip) in the request info the server writes.
	im.Share = typ == jwt.Service
	act := jwt.NewActivationClaims(importerPub)
	act.Name = i.Local
	act.ImportSubject = jwt.Subject(remote)
	act.ImportType = typ
	tok, err := act.Encode(exporter)
	if err != nil {
		return nil, fmt.Errorf("activation token: %w", err)
	}
	im.Token = tok
	return im, nil
}
