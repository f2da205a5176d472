package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	Auth          *Authenticator
	Logger        *slog.Logger
	// MaxPayload bounds every message; frames are at most ~1 MiB.
	MaxPayload int32
	// TLSCert and TLSKey, when set, make every client connection TLS (1.2 or later).
	TLSCert, TLSKey string
}

// Server is a running embedded NATS server.
type Server struct {
	*server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.Auth == nil {
		return nil, errors.New("natsembed: an Authenticator is required: the broker never runs open")
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
		CustomClientAuthentication: o.Auth,
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
	if o.Logger != nil {
		s.SetLoggerV2(&slogAdapter{l: o.Logger.With("component", "nats")}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, errors.New("nats server did not become ready in 15s (is the port in use?)")
	}
	return &Server{Server: s}, nil
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

type slogAdapter struct{ l *slog.Logger }

func (a *slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Fatalf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Errorf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Debugf(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...)) }
func (a *slogAdapter) Tracef(f string, v ...any)  {}
