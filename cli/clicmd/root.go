package clicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/version"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Main runs the tether command line with args (without the program name) and returns the
// process exit code: 0, 1 for errors, 2 for usage errors, or a session's remote exit code.
func Main(args []string) int {
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, executable: os.Executable}
	return a.main(context.Background(), args)
}

// app is one run of the command line.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	executable     func() (string, error) // os.Executable, for ssh-config

	noticeMu    sync.Mutex // notices of forwarded connections come from many goroutines
	noticesDone bool       // the forward is over: no more notices

	// Global flags.
	configPath string
	outputFlag string
	timeout    time.Duration
	debug      bool

	format  output.Format
	log     *slog.Logger
	started bool   // a command's RunE was reached: later errors are not usage errors
	cmdPath string // the command that ran, for hints
	stops   []func()
	cfg     *config.Config
	nc      *nats.Conn
}

// ownSignals marks commands that handle SIGINT themselves (sessions forward it).
var ownSignals = map[string]string{"signals": "own"}

func (a *app) main(ctx context.Context, args []string) int {
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd != nil {
		a.cmdPath = cmd.CommandPath()
	}
	for _, stop := range a.stops {
		stop()
	}
	if a.nc != nil {
		a.nc.Close()
	}
	return a.report(err)
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "tether",
		Short:         "Open sessions on managed instances through a Tether broker",
		Version:       version.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(a.outputFlag)
			if err != nil {
				return usageError{err}
			}
			a.format = f
			if a.timeout <= 0 {
				return usageError{fmt.Errorf("--timeout %v: must be positive", a.timeout)}
			}
			level := slog.LevelWarn
			if a.debug {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			if cmd.Annotations["signals"] != "own" {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				a.stops = append(a.stops, stop)
				cmd.SetContext(ctx)
			}
			return nil
		},
	}
	root.SetVersionTemplate("tether {{.Version}}\n") // as version.String, and the other binaries
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "client config file (default $TETHER_CONFIG, else ~/.config/tether/config.json, else the demo's ~/.tether/dev/config.json)")
	pf.StringVarP(&a.outputFlag, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&a.timeout, "timeout", 10*time.Second, "how long to wait for the broker to answer a request")
	pf.BoolVar(&a.debug, "debug", false, "log diagnostics to stderr")

	root.AddCommand(
		a.newStartSession(),
		a.newShell(),
		a.newResumeSession(),
		a.newForward(),
		a.newSSHProxy(),
		a.newSSHConfig(),
		a.newTerminateSession(),
		a.newDescribeSessions(),
		a.newDescribeInstances(),
		a.newPlay(),
		a.newRecordings(),
		a.newListRecordings("list-recordings"),
		a.newCreateDocument(),
		a.newUpdateDocument(),
		a.newGetDocument(),
		a.newListDocuments(),
		a.newDeleteDocument(),
		a.newGetPreferences(),
		a.newUpdatePreferences(),
		a.newPolicy(),
		a.newAdmin(),
		a.newKeygen(),
		a.newWhoAmI(),
		a.newVersion(),
	)
	a.registerCompletions(root)
	return root
}

// runE marks the point from which errors are no longer usage errors.
func (a *app) runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.started = true
		return f(cmd, args)
	}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError ends tether with a session's exit code, printing nothing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// hintError carries a "Try:" hint to print under the error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

// report prints err once and returns the exit code.
func (a *app) report(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := errors.AsType[exitError](err); ok {
		return ee.code
	}
	code := 1
	msg := err.Error()
	var hint string
	var reasons []string
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(a.stderr, "tether: interrupted")
		return 130
	}
	if ue, ok := errors.AsType[usageError](err); ok || !a.started {
		code = 2
		if ok {
			msg = ue.Error()
		}
		hint = "tether --help"
		if a.cmdPath != "" {
			hint = a.cmdPath + " --help"
		}
	}
	if ae, ok := errors.AsType[*api.Error](err); ok {
		msg = ae.Message
		if msg == "" {
			msg = ae.Code
		}
		if ae.Code == api.CodeAccessDenied {
			reasons = ae.Reasons
		}
	}
	if errors.Is(err, api.ErrNoControlPlane) {
		hint = "tether-broker dev"
	}
	if re, ok := errors.AsType[*config.RefusedError](err); ok {
		hint = fmt.Sprintf("point nkey_seed_file in %s at %s's key, or ask an admin to add this one: tether admin user add %s --nkey %s",
			a.configFile(), re.User, re.User, re.PublicKey)
	}
	if me, ok := errors.AsType[*config.MismatchError](err); ok {
		hint = fmt.Sprintf("set user in %s to the name this key was added as (tether admin user list shows it), or nkey_seed_file to %s's key",
			a.configFile(), me.User)
	}
	if errors.Is(err, nats.ErrNoServers) {
		hint = "start a broker with tether-broker dev, or check broker_url in " + a.configFile()
	}
	if he, ok := errors.AsType[hintError](err); ok {
		hint = he.hint
	}
	// A multi-line message (a refused policy bundle's compile errors) prints in full, its
	// further lines indented.
	lines := strings.Split(strings.TrimRight(output.CleanText(msg), "\n"), "\n")
	fmt.Fprintf(a.stderr, "tether: %s\n", lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(a.stderr, "  %s\n", l)
	}
	for _, r := range reasons {
		fmt.Fprintf(a.stderr, "  reason: %s\n", output.Clean(r))
	}
	if hint != "" {
		fmt.Fprintf(a.stderr, "Try: %s\n", hint)
	}
	return code
}

// configFile is --config, else what config.Find picks ($TETHER_CONFIG, the user's
// config, the demo's).
func (a *app) configFile() string {
	if a.configPath != "" {
		return a.configPath
	}
	return config.Find(a.getenv)
}

// client loads the config and connects to the broker, once.
func (a *app) client() (*nats.Conn, *config.Config, error) {
	if a.nc != nil {
		return a.nc, a.cfg, nil
	}
	path := a.configFile()
	cfg, err := config.Load(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, hintError{err, "tether-broker dev (it writes a client config), or pass --config FILE"}
		}
		return nil, nil, err
	}
	// A lost connection is retried for as long as the caller waits (a session's client
	// gives up after the resume window, a request after --timeout), refusals included: a
	// restarting broker refuses connections until its authorization is up, and nats.go
	// would give up on the second one.
	nc, err := cfg.Connect(nats.Timeout(a.timeout), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.IgnoreAuthErrorAbort())
	if err != nil {
		return nil, nil, err
	}
	a.cfg, a.nc = cfg, nc
	return nc, cfg, nil
}

// call makes one control-plane request within --timeout.
func (a *app) call(ctx context.Context, verb string, req, resp any) error {
	nc, cfg, err := a.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return api.Call(ctx, nc, subjects.API(cfg.User, verb), req, resp)
}

// print writes v as JSON, or calls table to print it as text.
func (a *app) print(v any, table func(w io.Writer) error) error {
	if a.format == output.JSON {
		return output.WriteJSON(a.stdout, v)
	}
	return table(a.stdout)
}

// exactArgs is cobra.ExactArgs naming what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			if len(args) < len(names) {
				return fmt.Errorf("missing %s", names[len(args)])
			}
			return fmt.Errorf("unexpected argument %q", args[len(names)])
		}
		return nil
	}
}
