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

// dataReplyThreshold bounds how long the server remembers the reply subject of a message
// on a session's data subjects (input, window reports): nobody is meant to answer those,
// and a flood of them with reply subjects must not pile up response mappings.
const dataReplyThreshold = 2 * time.Second

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
}

func newAccountSet(log *slog.Logger) *accountSet {
	return &accountSet{log: log, made: map[string]*server.Account{}, gates: map[string]*server.Account{},
		sessions: map[string]map[string][]accounts.Mapping{}, enrollments: map[string]int{}}
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
	for _, s := range []string{"tether.s.*.*.*.in", "tether.s.*.*.*.ctl"} {
		if err := svc.SetServiceExportResponseThreshold(s, dataReplyThreshold); err != nil {
			return fmt.Errorf("service account export %s: %w", s, err)
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
		if err := acc.SetServiceExportResponseThreshold(subj, dataReplyThreshold); err != nil {
			return fmt.Errorf("export %s: %w", subj, err)
		}
		if err := as.svc.AddServiceImport(acc, subj, ""); err != nil {
			return fmt.Errorf("service account import %s: %w", subj, err)
		}
	}
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
// account, from now until EndSession.
func (as *accountSet) AllowSession(target, owner, sid string) error {
	name := accounts.GateName(target)
	ms := accounts.SessionMappings(target, owner, sid)
	as.mu.Lock()
	defer as.mu.Unlock()
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
