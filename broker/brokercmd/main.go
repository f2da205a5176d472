package brokercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tetherhq/tether/agent/cpuprofile"
	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/config"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Version is set at build time.
var Version = "0.1.0-dev"

const usage = `tether-broker: the Tether broker (embedded NATS + JetStream + control plane)

Usage:
  tether-broker [run] [flags]   run a broker
  tether-broker dev [flags]     run the all-in-one demo: broker, local agent, shell
  tether-broker ship [flags]    run a recording shipper outside the broker
  tether-broker version

Run "tether-broker run -h" or "tether-broker dev -h" for flags.
`

// Main runs the command and returns its exit code.
func Main(args []string) int {
	defer cpuprofile.Start()()
	return main(args, os.Stdout, os.Stderr)
}

func main(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = run(args, stderr)
	case "ship":
		err = shipMain(args, stderr)
	case "dev":
		var code int
		code, err = dev(args, stdout, stderr)
		if err == nil {
			return code
		}
	case "version":
		fmt.Fprintln(stdout, "tether-broker", Version)
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tether-broker: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "tether-broker: %v\nTry: tether-broker %s -h\n", ue.err, cmd)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tether-broker: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

// adminFlags collects repeated --admin name=UKEY flags.
type adminFlags []config.Admin

func (a *adminFlags) String() string { return fmt.Sprint(*a) }
func (a *adminFlags) Set(v string) error {
	name, key, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want NAME=UPUBLICKEY")
	}
	*a = append(*a, config.Admin{Name: name, NKey: key})
	return nil
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (JSON)")
	listen := fs.String("listen", "", "client listen address host:port (default 127.0.0.1:4222; off loopback it needs --tls-cert or --allow-plaintext)")
	stateDir := fs.String("state-dir", "", "state directory (default /var/lib/tether)")
	policyDir := fs.String("policy-dir", "", "directory of .rego policies (default: the shipped policy)")
	monitor := fs.String("monitor", "", "NATS monitoring listen address host:port (loopback unless --allow-remote-monitor)")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus metrics on host:port/metrics")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	tlsCert := fs.String("tls-cert", "", "TLS certificate (PEM) for client connections")
	tlsKey := fs.String("tls-key", "", "TLS private key (PEM) for client connections")
	allowPlaintext := fs.Bool("allow-plaintext", false, "serve clients without TLS on a non-loopback --listen address (traffic crosses the network in clear)")
	allowRemoteMonitor := fs.Bool("allow-remote-monitor", false, "serve the NATS monitoring endpoint, which has no authentication, on a non-loopback --monitor address")
	resetTranscripts := fs.Bool("reset-transcripts", false, "delete and recreate a transcript stream made by an earlier Tether that lets agents set their frames' TTL (its frames are lost)")
	var admins, shippers adminFlags
	fs.Var(&admins, "admin", "seed an admin user NAME=UPUBLICKEY (repeatable)")
	fs.Var(&shippers, "shipper", "let a shipper running elsewhere (tether-broker ship) connect as NAME=UPUBLICKEY (repeatable)")
	rf := recordingFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Read(*cfgPath); err != nil { // validated below, flags and all
			return err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, *listen)
	set(&cfg.StateDir, *stateDir)
	set(&cfg.PolicyDir, *policyDir)
	set(&cfg.MonitorListen, *monitor)
	set(&cfg.MetricsListen, *metricsListen)
	set(&cfg.LogLevel, *logLevel)
	set(&cfg.TLSCertFile, *tlsCert)
	set(&cfg.TLSKeyFile, *tlsKey)
	cfg.AllowPlaintext = cfg.AllowPlaintext || *allowPlaintext
	cfg.AllowRemoteMonitor = cfg.AllowRemoteMonitor || *allowRemoteMonitor
	cfg.Admins = append(cfg.Admins, admins...)
	cfg.Shippers = append(cfg.Shippers, shippers...)
	rf.apply(&cfg)
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	log := newLogger(stderr, cfg.LogLevel)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := nodeOptions(cfg, log)
	if err != nil {
		return err
	}
	o.Limits.ResetTranscripts = *resetTranscripts
	n, err := brokerd.Start(ctx, o)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	return n.Close()
}

func nodeOptions(cfg config.Config, log *slog.Logger) (brokerd.Options, error) {
	o := brokerd.Options{
		Listen: cfg.Listen, MonitorListen: cfg.MonitorListen, ServerName: cfg.ServerName, MetricsListen: cfg.MetricsListen,
		StateDir: cfg.StateDir, PolicyDir: cfg.PolicyDir, TLSCert: cfg.TLSCertFile, TLSKey: cfg.TLSKeyFile,
		Limits: jsdef.Limits{
			TranscriptMaxAge: time.Duration(cfg.Transcripts.MaxAge), TranscriptMaxBytes: cfg.Transcripts.MaxBytes,
			AgentTranscriptBytes: cfg.Transcripts.AgentBudget,
		},
		HeartbeatInterval: time.Duration(cfg.HeartbeatInterval),
		AgentLostAfter:    time.Duration(cfg.AgentLostAfter),
		Logger:            log,
	}
	for _, a := range cfg.Admins {
		o.Admins = append(o.Admins, api.User{Name: a.Name, NKey: a.NKey})
	}
	if len(cfg.Shippers) > 0 {
		o.Shippers = map[string]string{}
		for _, sh := range cfg.Shippers {
			o.Shippers[sh.Name] = sh.NKey
		}
	}
	rec, err := recordingsOptions(cfg.Recordings)
	if err != nil {
		return o, err
	}
	o.Recordings = rec
	return o, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
