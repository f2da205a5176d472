package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tetherhq/tether/broker/logsample"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
)

// Options configure the embedded server.
type Options struct {
	// Listen is host:port for client connections; port 0 picks a free port.
	Listen     string
	ServerName string
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// MonitorListen, when set, serves the NATS monitoring endpoints on host:port.
	MonitorListen string
	// Resolver says who each connecting key belongs to; the broker never runs open.
	Resolver Resolver
	Logger   *slog.Logger
	// MaxPayload bounds every message; frames are at most ~1 MiB.
	MaxPayload int32
	// TLSCert and TLSKey, when set, make every client connection TLS (1.2 or later).
	TLSCert, TLSKey string
	// HoldPrincipals keeps principals' connections waiting (at most OpenWait each, then
	// refused: they retry) until OpenToPrincipals: a broker opens once its control plane
	// has allowed the sessions it inherits. Otherwise they are let in at once.
	HoldPrincipals bool
}

// OpenWait is how long a principal's connection waits for a held server to open.
const OpenWait = 10 * time.Second

// Server is a running embedded NATS server.
type Server struct {
	*server.Server
	accounts *accountSet
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.Resolver == nil {
		return nil, errors.New("natsembed: a Resolver is required: the broker never runs open")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := moveGlobalStore(o.StoreDir); err != nil {
		return nil, err
	}
	as := newAccountSet(log)
	if !o.HoldPrincipals {
		as.Open()
	}
	auth := &authenticator{
		resolver: o.Resolver, log: log.With(logkey.Component, "auth"), accounts: as,
		backoff: newBackoff(), sampled: logsample.New(time.Minute),
	}
	host, port, err := splitHostPort(o.Listen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:                 o.ServerName,
		Host:                       host,
		Port:                       port,
		JetStream:                  true,
		StoreDir:                   o.StoreDir,
		CustomClientAuthentication: auth,
		AlwaysEnableNonce:          true,
		MaxPayload:                 o.MaxPayload,
		NoSigs:                     true,
		DisableShortFirstPing:      true,
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 2 << 20
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey, Timeout: 5})
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 5
	}
	if o.MonitorListen != "" {
		mh, mp, err := splitHostPort(o.MonitorListen)
		if err != nil {
			return nil, fmt.Errorf("monitor address: %w", err)
		}
		opts.HTTPHost, opts.HTTPPort = mh, mp
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure nats server: %w", err)
	}
	// The server reports a listener it cannot open only in its log (and then says it is
	// ready): the adapter hands that report to waitListening.
	fatal := make(chan string, 1)
	s.SetLoggerV2(&slogAdapter{l: log.With(logkey.Component, "nats"), fatal: fatal}, false, false, false)
	s.Start()
	if err := waitListening(s, fatal, o); err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, err
	}
	if err := as.setupService(s); err != nil {
		s.Shutdown()
		return nil, err
	}
	return &Server{Server: s, accounts: as}, nil
}

// moveGlobalStore moves the JetStream files an earlier Tether kept in NATS's global
// account ($G), before every principal had an account of its own, to the service
// account, where the broker's streams now live.
func moveGlobalStore(storeDir string) error {
	if storeDir == "" {
		return nil
	}
	old := filepath.Join(storeDir, server.JetStreamStoreDir, server.DEFAULT_GLOBAL_ACCOUNT)
	moved := filepath.Join(storeDir, server.JetStreamStoreDir, accounts.Service)
	if _, err := os.Stat(old); err != nil {
		return nil // nothing there
	}
	if _, err := os.Stat(moved); err == nil {
		return fmt.Errorf("both %s and %s hold JetStream files: move one away", old, moved)
	}
	if err := os.Rename(old, moved); err != nil {
		return fmt.Errorf("move the streams of an earlier Tether to the service account: %w", err)
	}
	return nil
}

// AllowSession lets the agent of target publish the frames of session sid (owned by
// owner) into the transcript stream and to its client, until EndSession. Frames of any
// other session the agent publishes are refused.
func (s *Server) AllowSession(target, owner, sid string) error {
	return s.accounts.AllowSession(target, owner, sid)
}

// OpenToPrincipals lets principals connect to a server started with HoldPrincipals.
func (s *Server) OpenToPrincipals() { s.accounts.Open() }

// EndSession refuses the frames of session sid on target from now on.
func (s *Server) EndSession(target, sid string) { s.accounts.EndSession(target, sid) }

// AgentConnected reports whether the client connection cid of the agent of instance is
// open: the control plane refuses a second agent process only while the registered
// one's connection is.
func (s *Server) AgentConnected(instance string, cid uint64) bool {
	cz, err := s.Connz(&server.ConnzOptions{CID: cid, Account: accounts.AccountName(accounts.KindAgent, instance)})
	return err == nil && len(cz.Conns) == 1 && cz.Conns[0].Cid == cid
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ClientURL() }

// Close shuts the server down and waits for it. It is idempotent.
func (s *Server) Close() {
	s.Shutdown()
	s.WaitForShutdown()
}

func splitHostPort(hp string) (string, int, error) {
	if hp == "" {
		return "127.0.0.1", -1, nil
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", hp, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", hp)
	}
	if port == 0 {
		port = -1 // nats-server: random port
	}
	return h, port, nil
}

// ListenError is Start's error when the server could not listen on an address, most
// often because another process (another broker, a NATS server) holds the port.
type ListenError struct {
	Addr string // as configured: Options.Listen or Options.MonitorListen
	What string // "client" or "monitoring"
	Msg  string // the server's own report
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("cannot listen for %s connections on %s: %s", e.What, e.Addr, e.Msg)
}

// waitListening waits until the server accepts connections, or returns a ListenError
// as soon as it reports a listener it could not open.
func waitListening(s *server.Server, fatal <-chan string, o Options) error {
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case msg := <-fatal:
			return listenError(msg, o)
		case <-deadline:
			return errors.New("nats server did not become ready in 15s")
		case <-tick.C:
		}
		if s.Addr() != nil && (o.MonitorListen == "" || s.MonitorAddr() != nil) && s.ReadyForConnections(time.Second) {
			// A late report still wins over readiness.
			select {
			case msg := <-fatal:
				return listenError(msg, o)
			default:
				return nil
			}
		}
	}
}

func listenError(msg string, o Options) error {
	switch {
	case strings.HasPrefix(msg, "Error listening on port"):
		return &ListenError{Addr: o.Listen, What: "client", Msg: serverReason(msg)}
	case strings.HasPrefix(msg, "Can't start monitoring"):
		return &ListenError{Addr: o.MonitorListen, What: "monitoring", Msg: serverReason(msg)}
	}
	return fmt.Errorf("nats server: %s", msg)
}

// serverReason cuts the OS's reason out of the server's report: "... bind: address already
// in use" gives "address already in use".
func serverReason(msg string) string {
	msg = strings.TrimRight(msg, `"`)
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

type slogAdapter struct {
	l     *slog.Logger
	fatal chan<- string // the first fatal report, for Start
}

func (a *slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Fatalf(f string, v ...any) {
	msg := fmt.Sprintf(f, v...)
	a.l.Error(msg)
	select {
	case a.fatal <- msg:
	default:
	}
}
func (a *slogAdapter) Errorf(f string, v ...any) { a.l.Error(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Debugf(f string, v ...any) { a.l.Debug(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Tracef(f string, v ...any) {}
