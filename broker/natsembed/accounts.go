package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/tetherhq/tether/streams/accounts"
)

// accountSet makes the service account and, on their first connection, the principals'
// accounts, as streams/accounts lays them out; and it holds the agents' session mappings.
type accountSet struct {
	srv *server.Server
	svc *server.Account
	log *slog.Logger

	mu   sync.Mutex
	made map[string]*server.Account // configured principal accounts, by name
	// gates are the agents' gate accounts, by name.
	gates map[string]*server.Account
	// sessions are the running sessions' mappings, by gate account and session id: put
	// in the agent's gate while it exists, and when it is made.
	sessions map[string]map[string][]accounts.Mapping
	// enrollments counts the enrollment accounts made for each activation.
	enrollments map[string]int
	// paired are the (target, owner) pairs whose session data imports are made
	// (accounts.SessionData), by "target owner".
	paired map[string]bool
	// open is closed once principals may connect (Open): until the control plane has
	// allowed the sessions it inherits, their accounts lack the imports a resubscribing
	// client needs, and the server adds no import to a subscription made before it.
	open     chan struct{}
	openOnce sync.Once
}

func newAccountSet(log *slog.Logger) *accountSet {
	return &accountSet{log: log, made: map[string]*server.Account{}, gates: map[string]*server.Account{},
		sessions: map[string]map[string][]accounts.Mapping{}, enrollments: map[string]int{},
		paired: map[string]bool{}, open: make(chan struct{})}
}

// Open lets principals connect. It is idempotent.
func (as *accountSet) Open() { as.openOnce.Do(func() { close(as.open) }) }

// waitOpen waits at most d for Open.
func (as *accountSet) waitOpen(d time.Duration) bool {
	select {
	case <-as.open:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-as.open:
		return true
	case <-t.C:
		return false
	}
}

// setupService registers the service account, gives it JetStream, and exports what
// principals' accounts import. It runs once the server started, before any connection.
func (as *accountSet) setupService(srv *server.Server) error {
	as.srv = srv
	svc, _ := srv.LookupOrRegisterAccount(accounts.Service)
	err := svc.EnableJetStream(map[string]server.JetStreamAccountLimits{
		_EMPTY: {MaxMemory: -1, MaxStore: -1, MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1, MemoryMaxStreamBytes: -1, StoreMaxStreamBytes: -1},
	}, nil)
	if err != nil {
		return fmt.Errorf("enable JetStream for the service account: %w", err)
	}
	for _, e := range accounts.ServiceExports() {
		switch {
		case e.Stream:
			err = svc.AddStreamExport(e.Subject, nil)
		case e.Streamed:
			err = svc.AddServiceExportWithResponse(e.Subject, server.Streamed, nil)
		default:
			err = svc.AddServiceExport(e.Subject, nil)
		}
		if err != nil {
			return fmt.Errorf("service account export %s: %w", e.Subject, err)
		}
	}
	as.mu.Lock()
	as.svc = svc
	as.mu.Unlock()
	return nil
}

// service is the service account, nil until setupService has made it.
func (as *accountSet) service() *server.Account {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.svc
}

const _EMPTY = ""

// ensure returns the principal's account, making it on first use: limits, imports from
// the service account, and the services it exports to the service account.
func (as *accountSet) ensure(a accounts.Account) (*server.Account, error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.ensureLocked(a)
}

func (as *accountSet) ensureLocked(a accounts.Account) (*server.Account, error) {
	if acc, ok := as.made[a.Name]; ok {
		return acc, nil
	}
	var gate *server.Account
	if a.Gate != nil {
		var err error
		if gate, err = as.makeGate(a.Gate); err != nil {
			return nil, err
		}
	}
	acc, err := as.register(a.Name, a.Limits)
	if err != nil {
		return nil, err
	}
	if err := as.configure(acc, a); err != nil {
		return nil, fmt.Errorf("set up account %s: %w", a.Name, err)
	}
	if gate != nil {
		for _, im := range a.Gate.Ingress {
			if err := acc.AddServiceImport(gate, im.Local, im.RemoteSubject()); err != nil {
				return nil, fmt.Errorf("set up account %s: import %s from its gate: %w", a.Name, im.Local, err)
			}
		}
	}
	as.made[a.Name] = acc
	return acc, nil
}

// enrollmentRoom refuses a new enrollment account past what its activation can use: each
// enrolling key has an account of its own, and accounts are never freed, so keys tried
// with one activation code are bounded by its registrations (twice them, and a few).
func (as *accountSet) enrollmentRoom(a accounts.Account, limit int) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	if _, made := as.made[a.Name]; made {
		return nil
	}
	if n := as.enrollments[a.Activation]; n >= 2*limit+8 {
		return fmt.Errorf("activation %s has been tried with %d keys, the most its %d registrations allow; create another", a.Activation, n, limit)
	}
	as.enrollments[a.Activation]++
	return nil
}

// register makes a new account with limits. Accounts cannot be removed from a running
// server nor their imports taken back, so one that exists already (made by a call that
// failed part-way) stays unusable.
func (as *accountSet) register(name string, l accounts.Limits) (*server.Account, error) {
	acc, isNew := as.srv.LookupOrRegisterAccount(name)
	if !isNew {
		return nil, fmt.Errorf("account %s exists but was not set up", name)
	}
	// Limits come in the form of account claims; with no imports or exports in them and
	// no JetStream limits, they set the limits alone (JetStream stays off).
	claims := jwt.NewAccountClaims(name)
	claims.Limits.Conn = int64(l.Conns)
	claims.Limits.Subs = int64(l.Subs)
	claims.Limits.LeafNodeConn = 0
	as.srv.UpdateAccountClaims(acc, claims)
	return acc, nil
}

// makeGate makes an agent's gate: it imports the session subjects from the service
// account, exports their ingress to the agent's account, and takes the mappings of the
// sessions already running on the agent.
func (as *accountSet) makeGate(g *accounts.Gate) (*server.Account, error) {
	if gate, ok := as.gates[g.Name]; ok {
		return gate, nil
	}
	gate, err := as.register(g.Name, accounts.Limits{}) // no connections at all
	if err != nil {
		return nil, err
	}
	if err := as.importAll(gate, g.Imports); err != nil {
		return nil, fmt.Errorf("set up gate %s: %w", g.Name, err)
	}
	for _, im := range g.Ingress {
		if err := gate.AddServiceExport(im.RemoteSubject(), nil); err != nil {
			return nil, fmt.Errorf("set up gate %s: export %s: %w", g.Name, im.RemoteSubject(), err)
		}
	}
	for _, ms := range as.sessions[g.Name] {
		if err := addMappings(gate, ms); err != nil {
			return nil, fmt.Errorf("set up gate %s: %w", g.Name, err)
		}
	}
	as.gates[g.Name] = gate
	return gate, nil
}

func (as *accountSet) importAll(acc *server.Account, imports []accounts.Import) error {
	for _, im := range imports {
		var err error
		if im.Stream {
			if im.Remote == "" {
				err = acc.AddStreamImport(as.svc, im.Local, "")
			} else {
				err = acc.AddMappedStreamImport(as.svc, im.Remote, im.Local)
			}
		} else {
			err = acc.AddServiceImport(as.svc, im.Local, im.RemoteSubject())
			if err == nil {
				// The control plane reads the caller's address from the request info the
				// server writes (policy's source_ip); the server shares it only if asked.
				err = acc.SetServiceImportSharing(as.svc, im.RemoteSubject(), true)
			}
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", im.Local, err)
		}
	}
	return nil
}

func (as *accountSet) configure(acc *server.Account, a accounts.Account) error {
	if err := as.importAll(acc, a.Imports); err != nil {
		return err
	}
	for _, subj := range a.Exports {
		if err := acc.AddServiceExport(subj, []*server.Account{as.svc}); err != nil {
			return fmt.Errorf("export %s: %w", subj, err)
		}
		if err := as.svc.AddServiceImport(acc, subj, ""); err != nil {
			return fmt.Errorf("service account import %s: %w", subj, err)
		}
	}
	// a.DataExports are exported by pair, to each importer by name as it comes: an
	// export with no account approved would be public, or (with an empty list) would
	// require an activation token even of the accounts approved later.
	return nil
}

// pair makes the session data imports between target's agent account and owner's
// account (accounts.SessionData), making the accounts if need be, once per pair: before
// the agent subscribes to the session's input, and before the client subscribes to its
// frames, since the server adds no import to a subscription made before it.
func (as *accountSet) pair(target, owner string) error {
	key := target + " " + owner
	if as.paired[key] {
		return nil
	}
	agent, user := accounts.Agent(target).Account, accounts.User(owner, false).Account
	agentAcc, err := as.ensureLocked(agent)
	if err != nil {
		return err
	}
	userAcc, err := as.ensureLocked(user)
	if err != nil {
		return err
	}
	toAgent, toUser := accounts.SessionData(target, owner)
	for _, l := range []struct {
		im       accounts.Import
		export   string
		from, to *server.Account
	}{{toAgent, user.DataExports[0], userAcc, agentAcc}, {toUser, agent.DataExports[0], agentAcc, userAcc}} {
		if err := l.from.AddStreamExport(l.export, []*server.Account{l.to}); err != nil {
			return fmt.Errorf("approve %s for %s: %w", l.export, l.to.Name, err)
		}
		// A pair that failed part-way has some imports already (they cannot be taken back).
		if err := l.to.AddStreamImport(l.from, l.im.Local, ""); err != nil && !errors.Is(err, server.ErrStreamImportDuplicate) {
			return fmt.Errorf("import %s from %s: %w", l.im.Local, l.from.Name, err)
		}
	}
	as.paired[key] = true
	return nil
}

func addMappings(acc *server.Account, ms []accounts.Mapping) error {
	for _, m := range ms {
		if err := acc.AddMapping(m.From, m.To); err != nil {
			return fmt.Errorf("map %s: %w", m.From, err)
		}
	}
	return nil
}

// AllowSession lets the agent of target publish the session's frames into the service
// account, from now until EndSession, and joins the session's two accounts for its data.
func (as *accountSet) AllowSession(target, owner, sid string) error {
	name := accounts.GateName(target)
	ms := accounts.SessionMappings(target, owner, sid)
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.svc == nil {
		return errNotReady
	}
	if err := as.pair(target, owner); err != nil {
		return fmt.Errorf("session %s: %w", sid, err)
	}
	if as.sessions[name] == nil {
		as.sessions[name] = map[string][]accounts.Mapping{}
	}
	as.sessions[name][sid] = ms
	if gate, ok := as.gates[name]; ok {
		return addMappings(gate, ms)
	}
	return nil
}

// EndSession refuses the session's frames from now on.
func (as *accountSet) EndSession(target, sid string) {
	name := accounts.GateName(target)
	as.mu.Lock()
	defer as.mu.Unlock()
	ms, ok := as.sessions[name][sid]
	if !ok {
		return
	}
	delete(as.sessions[name], sid)
	if len(as.sessions[name]) == 0 {
		delete(as.sessions, name)
	}
	if gate, ok := as.gates[name]; ok {
		for _, m := range ms {
			gate.RemoveMapping(m.From)
		}
	}
}

// errNotReady is returned for connections that arrive before the service account exists.
var errNotReady = errors.New("the broker is not ready")
