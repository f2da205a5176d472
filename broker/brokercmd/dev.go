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
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nkeys"
	"golang.org/x/term"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/config"
	"github.com/tetherhq/tether/cli/clicmd"
	cliconfig "github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/secretfile"
	"github.com/tetherhq/tether/streams/statelock"
	"github.com/tetherhq/tether/streams/version"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// DevTarget is the instance id of the dev mode's local agent.
const DevTarget = "local"

func dev(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("dev", "Runs the all-in-one demo: a broker, an agent enrolled as target \"local\", a client\n"+
		"config for you as an admin (which tether finds by itself), and a shell on \"local\".", stderr)
	home, _ := os.UserHomeDir()
	stateDir := fs.String("state-dir", filepath.Join(home, ".tether", "dev"), "state directory")
	listen := fs.String("listen", "127.0.0.1:4222", "client listen address host:port (the dev broker has no TLS: off loopback it needs --allow-plaintext)")
	allowPlaintext := fs.Bool("allow-plaintext", false, "serve clients on a non-loopback --listen address, in clear")
	policyDir := fs.String("policy-dir", "", "directory of .rego policies (default: the shipped policy)")
	noShell := fs.Bool("no-shell", false, "do not open a shell; run until interrupted")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, err
		}
		return 0, usageError{err}
	}
	if fs.NArg() > 0 {
		return 0, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	cfg := config.Default()
	cfg.Listen, cfg.StateDir, cfg.PolicyDir = *listen, filepath.Join(*stateDir, "broker"), *policyDir
	cfg.AllowPlaintext = *allowPlaintext
	if err := cfg.Validate(); err != nil {
		return 0, usageError{err}
	}
	// One demo per state directory, before anything in it is written: a second demo
	// would overwrite the first one's client config and take over its agent.
	lock, err := statelock.Acquire(*stateDir, "tether-broker dev")
	if err != nil {
		return 0, err
	}
	defer lock.Release()
	shell := !*noShell && term.IsTerminal(int(os.Stdin.Fd()))
	logOut := stderr
	logPath := filepath.Join(*stateDir, "broker.log")
	if shell {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		logOut = f
	}
	log := newLogger(logOut, *logLevel)
	slog.SetDefault(log)

	user := devUserName()
	pub, seedPath, err := devUserKey(*stateDir)
	if err != nil {
		return 0, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Admins = []config.Admin{{Name: user, NKey: pub}}
	o, err := nodeOptions(cfg, log)
	if err != nil {
		return 0, err
	}
	// A demo's state may hold a transcript stream an earlier Tether made, which let
	// agents set how long their frames are kept: the demo makes it again.
	o.Limits.ResetTranscripts = true
	n, err := brokerd.Start(ctx, o)
	if err != nil {
		return 0, err
	}
	defer n.Close()

	cliPath := filepath.Join(*stateDir, "config.json")
	if err := cliconfig.Write(cliPath, &cliconfig.Config{BrokerURL: n.URL(), User: user, NKeySeedFile: seedPath}); err != nil {
		return 0, err
	}
	agentDir := filepath.Join(*stateDir, "agent")
	acfg := agent.Config{BrokerURL: n.URL(), StateDir: agentDir, Version: version.Version, Logger: log.With(logkey.Component, "agent")}
	if _, err := os.Stat(filepath.Join(agentDir, "agent.nk")); err != nil {
		act, err := devActivation(cliPath)
		if err != nil {
			return 0, err
		}
		acfg.ActivationID, acfg.ActivationCode = act.ID, act.Code
	}
	ag, err := agent.New(acfg)
	if err != nil {
		return 0, err
	}
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	agentDone := make(chan error, 1)
	go func() { agentDone <- ag.Run(agentCtx) }()
	shutdown := func() {
		stopAgent()
		select {
		case err := <-agentDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("agent stopped", logkey.Err, err)
			}
		case <-time.After(20 * time.Second):
			log.Warn("agent did not stop in 20s")
		}
		_ = n.Close()
	}
	defer shutdown()
	if err := waitOnline(ctx, cliPath, agentDone); err != nil {
		return 0, err
	}
	fmt.Fprintf(stdout, "Tether dev broker on %s (state in %s, logs %s)\n", n.URL(), *stateDir, map[bool]string{true: logPath, false: "on stderr"}[shell])
	fmt.Fprintf(stdout, "Agent %q is online. From another terminal:\n", DevTarget)
	if cliconfig.DefaultPath() != cliPath {
		// tether finds the demo's config by itself only where it looks: ~/.tether/dev, and
		// only when no other config is in the way.
		fmt.Fprintf(stdout, "  export TETHER_CONFIG=%s\n", cliPath)
	}
	fmt.Fprintf(stdout, "  tether describe-instance-information\n  tether shell %s\n", DevTarget)
	if !shell {
		fmt.Fprintln(stdout, "Running until interrupted (Ctrl-C).")
		select {
		case <-ctx.Done():
		case err := <-agentDone:
			return 1, fmt.Errorf("local agent stopped: %v", err)
		}
		return 0, nil
	}
	fmt.Fprintf(stdout, "Opening a shell on %q through the broker; exit it to stop the demo.\n", DevTarget)
	stop() // the shell owns Ctrl-C now: it goes to the remote side
	code := clicmd.Main([]string{"--config", cliPath, "shell", DevTarget})
	fmt.Fprintf(stdout, "Shell exited with status %d; stopping the dev broker.\n", code)
	return code, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func devUserName() string {
	u := unsafeName.ReplaceAllString(os.Getenv("USER"), "")
	if subjects.ValidName(u) != nil {
		return "dev"
	}
	return u
}

// devUserKey loads or creates the dev user's NKEY seed.
func devUserKey(dir string) (pub, path string, err error) {
	path = filepath.Join(dir, "user.nk")
	seed, err := secretfile.Read(path, "dev user key")
	if errors.Is(err, os.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", "", err
		}
		seed, _ = kp.Seed()
		if err := os.WriteFile(path, seed, 0o600); err != nil {
			return "", "", fmt.Errorf("write dev user key: %w", err)
		}
	} else if err != nil {
		return "", "", err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return "", "", fmt.Errorf("dev user key %s: %w", path, err)
	}
	pub, err = kp.PublicKey()
	return pub, path, err
}

func devActivation(cliPath string) (api.Activation, error) {
	var a api.Activation
	err := withClient(cliPath, func(call func(verb string, req, resp any) error) error {
		return call(api.VerbCreateActivation, api.CreateActivationRequest{
			Description: "dev mode local agent", DefaultInstanceName: DevTarget,
			Tags: map[string]string{"env": "dev"}, Limit: 1, Expires: "1h",
		}, &a)
	})
	return a, err
}

func waitOnline(ctx context.Context, cliPath string, agentDone <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	return withClient(cliPath, func(call func(verb string, req, resp any) error) error {
		for {
			var r api.DescribeInstancesResponse
			if err := call(api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{DevTarget}}, &r); err != nil {
				return err
			}
			if len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline {
				return nil
			}
			select {
			case err := <-agentDone:
				return fmt.Errorf("local agent stopped: %v", err)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return errors.New("the local agent did not come online in 30s")
			}
		}
	})
}

func withClient(path string, f func(call func(verb string, req, resp any) error) error) error {
	c, err := cliconfig.Load(path)
	if err != nil {
		return err
	}
	nc, err := c.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	return f(func(verb string, req, resp any) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return api.Call(ctx, nc, subjects.API(c.User, verb), req, resp)
	})
}
