package callout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/nats-io/jwt/v2"

	"github.com/tetherhq/tether/streams/accounts"
)

// Pusher hands an account JWT to the deployment's account resolver and returns once the
// resolver took it (SystemPusher).
type Pusher interface {
	Push(ctx context.Context, accountJWT string) error
}

// Registry is the auth-callout counterpart of the embedded broker's account set: the
// principals' accounts the deployment has and the sessions running on agents, kept as
// account JWTs in the resolver. A principal's first placement pushes its account (and
// gate), the service account (which imports the principal's exports) and the auth
// account (which may now place users in it); a session's start or end pushes its agent's
// gate. It also maps an account's public key — what the server reports as a request's
// "acc" — back to the principal.
//
// It holds what it pushed in memory only: a control plane that restarts must give
// NewRegistry every principal it knows (and then re-allow running sessions) before it
// pushes anything, or the service and auth accounts it pushes would forget the others.
type Registry struct {
	keys *Keys
	push Pusher

	mu sync.Mutex
	// principals are the principals' accounts, by name.
	principals map[string]accounts.Account
	// names are the account names by public key, of every account the registry signs.
	names map[string]string
	// sessions are the running sessions' mappings, by gate name and session id.
	sessions map[string]map[string][]accounts.Mapping
	// pairs are the session data imports (accounts.SessionData) of each principal's
	// account, by account name and "target owner": its sessions' pairs since the
	// registry was made.
	pairs map[string]map[string]accounts.Import
}

// NewRegistry returns a registry of the principals known, which pushes with p (nil: a
// registry that only makes JWTs, for a resolver's preload).
func NewRegistry(k *Keys, p Pusher, known ...accounts.Account) (*Registry, error) {
	r := &Registry{keys: k, push: p, principals: map[string]accounts.Account{}, names: map[string]string{},
		sessions: map[string]map[string][]accounts.Mapping{}, pairs: map[string]map[string]accounts.Import{}}
	for _, name := range []string{accounts.Service, SystemAccount} {
		if err := r.remember(name); err != nil {
			return nil, err
		}
	}
	for _, a := range known {
		if err := r.add(a); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Registry) remember(name string) error {
	pub, err := r.keys.AccountPub(name)
	if err != nil {
		return err
	}
	r.names[pub] = name
	return nil
}

func (r *Registry) add(a accounts.Account) error {
	if err := r.remember(a.Name); err != nil {
		return err
	}
	if a.Gate != nil {
		if err := r.remember(a.Gate.Name); err != nil {
			return err
		}
	}
	r.principals[a.Name] = a
	return nil
}

// AccountName is the name of the account whose public key is pub, if the registry signs
// it: how the control plane reads the principal out of Nats-Request-Info "acc", since in
// operator mode account names are public keys (accounts.Parse then gives kind and name).
func (r *Registry) AccountName(pub string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.names[pub]
	return name, ok
}

// Ensure makes sure a's account is in the resolver, with everything that refers to it,
// before a user is placed in it. It pushes nothing for an account it already has.
func (r *Registry) Ensure(ctx context.Context, a accounts.Account) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ensureLocked(ctx, a)
}

func (r *Registry) ensureLocked(ctx context.Context, a accounts.Account) error {
	if _, ok := r.principals[a.Name]; ok {
		return nil
	}
	if r.push == nil {
		return errors.New("registry has no pusher")
	}
	var jwts []string
	if a.Gate != nil {
		gc, err := r.gateClaims(a)
		if err != nil {
			return err
		}
		jwts = append(jwts, gc)
	}
	ac, err := r.accountClaims(a)
	if err != nil {
		return err
	}
	ps := append(r.sortedPrincipals(), a)
	svc, err := ServiceClaims(r.keys, ps)
	if err != nil {
		return err
	}
	auth, err := r.authClaims(ps)
	if err != nil {
		return err
	}
	for _, c := range []*jwt.AccountClaims{ac, svc, auth} {
		s, err := c.Encode(r.keys.Operator)
		if err != nil {
			return fmt.Errorf("sign account %s: %w", c.Name, err)
		}
		jwts = append(jwts, s)
	}
	for _, s := range jwts {
		if err := r.push.Push(ctx, s); err != nil {
			return fmt.Errorf("add account %s: %w", a.Name, err)
		}
	}
	return r.add(a)
}

// AllowSession lets the agent of target publish the session's frames into the service
// account: its gate's claims, with the session's mappings, are pushed. An agent whose
// account is not there yet gets them when it is made. The owner's and the agent's
// accounts are made if need be and, for their first session together, pushed with the
// session data imports that join them (accounts.SessionData).
func (r *Registry) AllowSession(ctx context.Context, target, owner, sid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.pair(ctx, target, owner); err != nil {
		return fmt.Errorf("allow session %s: %w", sid, err)
	}
	gate := accounts.GateName(target)
	prev, had := r.sessions[gate][sid]
	if r.sessions[gate] == nil {
		r.sessions[gate] = map[string][]accounts.Mapping{}
	}
	r.sessions[gate][sid] = accounts.SessionMappings(target, owner, sid)
	if err := r.pushGate(ctx, target); err != nil {
		if had {
			r.sessions[gate][sid] = prev
		} else {
			r.forget(gate, sid)
		}
		return fmt.Errorf("allow session %s: %w", sid, err)
	}
	return nil
}

// EndSession refuses the session's frames from now on: the gate's claims, without its
// mappings, are pushed.
func (r *Registry) EndSession(ctx context.Context, target, sid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	gate := accounts.GateName(target)
	ms, ok := r.sessions[gate][sid]
	if !ok {
		return nil
	}
	r.forget(gate, sid)
	if err := r.pushGate(ctx, target); err != nil {
		if r.sessions[gate] == nil {
			r.sessions[gate] = map[string][]accounts.Mapping{}
		}
		r.sessions[gate][sid] = ms
		return fmt.Errorf("end session %s: %w", sid, err)
	}
	return nil
}

// pair joins the accounts of target's agent and of owner for their sessions' data.
func (r *Registry) pair(ctx context.Context, target, owner string) error {
	agent, user := accounts.Agent(target).Account, accounts.User(owner, false).Account
	toAgent, toUser := accounts.SessionData(target, owner)
	key := target + " " + owner
	if _, ok := r.pairs[agent.Name][key]; ok {
		return nil
	}
	for _, a := range []accounts.Account{agent, user} {
		if err := r.ensureLocked(ctx, a); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		name string
		im   accounts.Import
	}{{agent.Name, toAgent}, {user.Name, toUser}} {
		if r.pairs[l.name] == nil {
			r.pairs[l.name] = map[string]accounts.Import{}
		}
		r.pairs[l.name][key] = l.im
	}
	// Each account holds its data exports from its first push: either may go first.
	for _, a := range []accounts.Account{user, agent} {
		if err := r.pushAccount(ctx, r.principals[a.Name]); err != nil {
			delete(r.pairs[agent.Name], key)
			delete(r.pairs[user.Name], key)
			return err
		}
	}
	return nil
}

// accountClaims are the claims of principal account a with its session data imports.
func (r *Registry) accountClaims(a accounts.Account) (*jwt.AccountClaims, error) {
	byPair := r.pairs[a.Name]
	data := make([]accounts.Import, 0, len(byPair))
	for _, k := range slices.Sorted(maps.Keys(byPair)) {
		data = append(data, byPair[k])
	}
	return AccountClaims(r.keys, a, data...)
}

func (r *Registry) pushAccount(ctx context.Context, a accounts.Account) error {
	if r.push == nil {
		return errors.New("registry has no pusher")
	}
	ac, err := r.accountClaims(a)
	if err != nil {
		return err
	}
	s, err := ac.Encode(r.keys.Operator)
	if err != nil {
		return fmt.Errorf("sign account %s: %w", a.Name, err)
	}
	return r.push.Push(ctx, s)
}

func (r *Registry) forget(gate, sid string) {
	delete(r.sessions[gate], sid)
	if len(r.sessions[gate]) == 0 {
		delete(r.sessions, gate)
	}
}

// pushGate pushes the gate of the agent target, if its account exists.
func (r *Registry) pushGate(ctx context.Context, target string) error {
	a, ok := r.principals[accounts.AccountName(accounts.KindAgent, target)]
	if !ok {
		return nil
	}
	if r.push == nil {
		return errors.New("registry has no pusher")
	}
	s, err := r.gateClaims(a)
	if err != nil {
		return err
	}
	return r.push.Push(ctx, s)
}

// JWTs are the account JWTs of the deployment as the registry has it, by public key:
// system, auth, service, every principal's and every gate. A resolver is preloaded with
// them (server.DirAccResolver.Store, or resolver_preload) before the first server starts.
func (r *Registry) JWTs() (map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.sortedPrincipals()
	sys, err := SystemClaims(r.keys)
	if err != nil {
		return nil, err
	}
	auth, err := r.authClaims(ps)
	if err != nil {
		return nil, err
	}
	svc, err := ServiceClaims(r.keys, ps)
	if err != nil {
		return nil, err
	}
	all := []*jwt.AccountClaims{sys, auth, svc}
	for _, a := range ps {
		ac, err := r.accountClaims(a)
		if err != nil {
			return nil, err
		}
		all = append(all, ac)
	}
	out := map[string]string{}
	for _, c := range all {
		s, err := c.Encode(r.keys.Operator)
		if err != nil {
			return nil, fmt.Errorf("sign account %s: %w", c.Name, err)
		}
		out[c.Subject] = s
	}
	for _, a := range ps {
		if a.Gate == nil {
			continue
		}
		s, err := r.gateClaims(a)
		if err != nil {
			return nil, err
		}
		pub, err := r.keys.AccountPub(a.Gate.Name)
		if err != nil {
			return nil, err
		}
		out[pub] = s
	}
	return out, nil
}

func (r *Registry) sortedPrincipals() []accounts.Account {
	names := slices.Sorted(maps.Keys(r.principals))
	out := make([]accounts.Account, 0, len(names)+1)
	for _, n := range names {
		out = append(out, r.principals[n])
	}
	return out
}

// authClaims lets the callout place users in the service account and in ps.
func (r *Registry) authClaims(ps []accounts.Account) (*jwt.AccountClaims, error) {
	svcPub, err := r.keys.ServicePub()
	if err != nil {
		return nil, err
	}
	allowed := []string{svcPub}
	for _, a := range ps {
		pub, err := r.keys.AccountPub(a.Name)
		if err != nil {
			return nil, err
		}
		allowed = append(allowed, pub)
	}
	return AuthClaims(r.keys, allowed)
}

// gateClaims is the signed gate of agent account a, with its running sessions.
func (r *Registry) gateClaims(a accounts.Account) (string, error) {
	byID := r.sessions[a.Gate.Name]
	var sessions [][]accounts.Mapping
	for _, sid := range slices.Sorted(maps.Keys(byID)) {
		sessions = append(sessions, byID[sid])
	}
	gc, err := GateClaims(r.keys, a, sessions...)
	if err != nil {
		return "", err
	}
	s, err := gc.Encode(r.keys.Operator)
	if err != nil {
		return "", fmt.Errorf("sign gate %s: %w", a.Gate.Name, err)
	}
	return s, nil
}
