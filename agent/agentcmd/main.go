package agentcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/streams/cpuprofile"
	"github.com/tetherhq/tether/streams/version"
)

// Main runs tether-agent with the given arguments (without the program name) and returns
// the process exit code.
func Main(args []string) int {
	defer cpuprofile.Start()()
	return run(args, os.Stdout, os.Stderr)
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tether-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		broker   = fs.String("broker", agent.DefaultBrokerURL, "NATS `URL` of the broker")
		stateDir = fs.String("state-dir", agent.DefaultStateDir, "`directory` holding the agent's key and identity")
		actID    = fs.String("activation-id", "", "activation `id`, to enroll an agent that has no key yet")
		actCode  = fs.String("activation-code", "", "activation `code`, to enroll an agent that has no key yet")
		level    = fs.String("log-level", "info", "log `level`: debug, info, warn or error")
		tlsCA    = fs.String("tls-ca", "", "PEM `file` of the CA that signed the broker's TLS certificate")
		showVer  = fs.Bool("version", false, "print the version and exit")
		fwdMiB   = fs.Int("forward-budget", agent.DefaultForwardBudget>>20,
			"`MiB` of forwarded data all sessions together may hold for destinations that have not taken it;\n"+
				"past it the connection holding the most is reset")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tether-agent [flags]\n\nRuns sessions on this node for a Tether broker.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVer {
		fmt.Fprintln(stdout, version.String("tether-agent"))
		return 0
	}
	if fs.NArg() > 0 {
		return fail(stderr, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))})
	}
	if *fwdMiB <= 0 || *fwdMiB > 1<<20 {
		return fail(stderr, usageError{fmt.Sprintf("--forward-budget %d: want 1 to %d MiB", *fwdMiB, 1<<20)})
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fail(stderr, usageError{fmt.Sprintf("--log-level %q: use debug, info, warn or error", *level)})
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)

	var natsOpts []nats.Option
	if *tlsCA != "" {
		natsOpts = append(natsOpts, nats.RootCAs(*tlsCA))
	}
	a, err := agent.New(agent.Config{
		NATSOptions:    natsOpts,
		BrokerURL:      *broker,
		StateDir:       *stateDir,
		ActivationID:   *actID,
		ActivationCode: *actCode,
		Version:        version.Version,
		Logger:         log,
		ForwardBudget:  *fwdMiB << 20,
	})
	if err != nil {
		return fail(stderr, usageError{err.Error()})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "tether-agent: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Try: tether-agent --help")
		return 2
	}
	if errors.Is(err, agent.ErrNotEnrolled) {
		fmt.Fprintln(stderr, "Try: tether-agent --activation-id ID --activation-code CODE (from `tether admin activation create`)")
	}
	return 1
}
