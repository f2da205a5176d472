package brokercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/config"
	"github.com/tetherhq/tether/broker/natsembed"
	"github.com/tetherhq/tether/streams/cpuprofile"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/version"
	"github.com/tetherhq/tether/streams/wire/api"
)

const usage = `tether-broker: the Tether broker (embedded NATS + JetStream + control plane)

Usage:
  tether-broker <command> [flags]

Commands:
  run       run a broker: clients on 127.0.0.1:4222, state in /var/lib/tether (or --config FILE)
  dev       run the all-in-one demo: a broker, a local agent and a shell on it, state in ~/.tether/dev
  ship      run a recording shipper outside the broker
  version   print the version

Run "tether-broker <command> -h" for its flags.
`

// Main runs the command and returns its exit code.
func Main(args []string) int {
	defer cpuprofile.Start()()
	return main(args, os.Stdout, os.Stderr)
}

func main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// As go and git do: a bare command starts nothing (least of all a production
		// broker in /var/lib/tether) and says what it can do.
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	switch {
	case cmd == "-h" || cmd == "-help" || cmd == "--help":
		cmd = "help"
	case cmd == "-version" || cmd == "--version":
		cmd = "version"
	case strings.HasPrefix(cmd, "-"):
		cmd = "run" // flags first: "tether-broker --config FILE" runs a broker, as it always has
	default:
		args = args[1:]
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
		fmt.Fprintln(stdout, version.String("tether-broker"))
		return 0
	case "help":
		if len(args) == 1 && slices.Contains([]string{"run", "dev", "ship"}, args[0]) {
			return main([]string{args[0], "-h"}, stdout, stderr)
		}
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
		if h := hint(cmd, err); h != "" {
			fmt.Fprintf(stderr, "Try: %s\n", h)
		}
		return 1
	}
	return 0
}

// hint says what to do about err, when there is something to say.
func hint(cmd string, err error) string {
	if le, ok := errors.AsType[*natsembed.ListenError](err); ok {
		opt := "--listen"
		if le.What == "monitoring" {
			opt = "--monitor"
		}
		return fmt.Sprintf("tether-broker %s %s %s (another program, often a NATS server, holds %s)", cmd, opt, nextPort(le.Addr), le.Addr)
	}
	return ""
}

// nextPort is hostport with the port one higher, to suggest instead of a taken one.
func nextPort(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p <= 0 || p >= 65535 {
		return "HOST:PORT"
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
}

// flagSet is a subcommand's flags. A mistake is reported once, by main, with a hint;
// only -h prints the flags, after a line on what the subcommand does.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	stderr   io.Writer
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, stderr: stderr}
}

// parse parses args, printing the usage for -h.
func (f *flagSet) parse(args []string) error {
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(f.stderr, "Usage: tether-broker %s [flags]\n\n%s\n\nFlags:\n", f.Name(), f.synopsis)
		f.SetOutput(f.stderr)
		f.PrintDefaults()
	}
	return err
}

type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

// adminFlags collects repeated --admin name=UKEY flags.
type adminFlags []config.Admin

func (a *adminFlags) String() string { return fmt.Sprint(*a) }
func (a *adminFlags) Set(v string) error {
	name, key, ok := strings.Cut(v, "=")
	if !ok {
		if strings.HasPrefix(v, "S") {
			// The flag package repeats a refused value: a seed is taken here and refused
			// by check, which does not.
			name, key = "", v
		} else {
			return errors.New("want NAME=UPUBLICKEY")
		}
	}
	*a = append(*a, config.Admin{Name: name, NKey: key})
	return nil
}

// check refuses a bad key of a flag's NAME=UKEY, naming the flag.
func (a adminFlags) check(flag string) error {
	for _, x := range a {
		field := fmt.Sprintf("--%s %s=…", flag, x.Name)
		if x.Name == "" {
			field = "--" + flag
		}
		if err := config.CheckUserKey(field, x.NKey); err != nil {
			if strings.HasPrefix(x.NKey, "S") {
				err = fmt.Errorf("%w (a seed given on a command line may be in your shell's history)", err)
			}
			return err
		}
	}
	return nil
}

func run(args []string, stderr io.Writer) error {
	fs := newFlagSet("run", "Runs a broker: the embedded NATS server with JetStream, the control plane and\n"+
		"(unless --no-ship) the recording shipper. Flags override the --config file.", stderr)
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
	rf := recordingFlags(fs.FlagSet)
	if err := fs.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if err := admins.check("admin"); err != nil {
		return usageError{err}
	}
	if err := shippers.check("shipper"); err != nil {
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
			TranscriptReserve:    cfg.Transcripts.ReserveBytes, ShippedGrace: time.Duration(cfg.Transcripts.ShippedGrace),
		},
		HeartbeatInterval: time.Duration(cfg.HeartbeatInterval),
		AgentLostAfter:    time.Duration(cfg.AgentLostAfter),
		ResumeWindow:      time.Duration(cfg.ResumeWindow),
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
