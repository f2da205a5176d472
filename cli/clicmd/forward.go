package clicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

type forwardOptions struct {
	target    string
	bind      string
	localUnix bool
	reason    string
}

func (a *app) newForward() *cobra.Command {
	var o forwardOptions
	cmd := &cobra.Command{
		Use:   "forward TARGET MAPPING...",
		Short: "Forward local ports or unix sockets to ports and sockets on or behind an instance",
		Long: "Listen locally and carry every connection, through the broker, to a port on the\n" +
			"instance, to a host the instance reaches, or to a unix socket on the instance. All\n" +
			"mappings share one session; each connection is decided by policy and recorded.\n\n" +
			"A MAPPING is LOCAL:DEST. LOCAL is a port (0: a free one, printed), or a unix socket\n" +
			"path: any LOCAL with a slash (./pg.sock), or every LOCAL with --local-unix-socket.\n" +
			"DEST is PORT (on the instance itself), HOST:PORT (an IPv6 address in brackets:\n" +
			"[fd00::1]:5432), or unix:/PATH (a unix socket on the instance).\n\n" +
			"Ctrl-C ends the session and exits 0. A session ended otherwise (idle, maximum\n" +
			"duration, terminated, agent lost) is reported and exits non-zero.",
		Example: "  tether forward web-1 9999:80\n" +
			"  tether forward web-1 9999:80 5433:5432 8443:grafana.internal:3000\n" +
			"  tether forward db-1 ./pg.sock:5432\n" +
			"  tether forward web-1 5000:unix:/var/run/docker.sock\n" +
			"  tether forward --bind 0.0.0.0 web-1 0:80",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("missing TARGET")
			}
			return nil
		},
		Annotations: ownSignals,
	}
	f := cmd.Flags()
	f.StringVar(&o.bind, "bind", defaultBind, "the local address to listen on for port mappings")
	f.BoolVar(&o.localUnix, "local-unix-socket", false, "every mapping's LOCAL is a unix socket path (a LOCAL with a slash always is)")
	f.StringVar(&o.reason, "reason", "", "why you start the session, for the audit log")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.target = args[0]
		ms, err := parseMappings(args[1:], o.localUnix)
		if err != nil {
			return usageError{err}
		}
		return a.forward(cmd.Context(), o, ms)
	})
	return cmd
}

// forward opens the listeners of ms, starts their session and runs it to its end.
func (a *app) forward(ctx context.Context, o forwardOptions, ms []mapping) error {
	ctx, stop := stopOnSignal(ctx)
	defer stop()
	dests, index := destinations(ms)
	ls, err := openListeners(o.bind, ms, index)
	if err != nil {
		return err
	}
	defer ls.close()
	if w := bindWarning(o.bind); w != "" && hasPort(ms) {
		fmt.Fprintln(a.stderr, w)
	}
	req := api.StartSessionRequest{Target: o.target, Forwards: dests, Reason: o.reason}
	var start api.StartSessionResponse
	if err := a.call(ctx, api.VerbStartSession, req, &start); err != nil {
		return err
	}
	for i := range ls {
		ls[i].label = o.target + ":" + dests[ls[i].dest].String()
	}
	ls.print(a.stdout)
	return a.followForward(ctx, start, forwardPlan{listeners: ls})
}

func hasPort(ms []mapping) bool {
	for _, m := range ms {
		if m.localPath == "" {
			return true
		}
	}
	return false
}

// forwardPlan is the local side of a port forwarding session: listeners, or one
// connection over a reader and a writer (ssh-proxy).
type forwardPlan struct {
	listeners localListeners
	stdio     *stdioStream
}

// stdioStream is the one connection of ssh-proxy.
type stdioStream struct {
	r     io.Reader
	w     io.Writer
	dest  int
	label string // "web-1:22"
}

// followForward runs a started port forwarding session to its end. A signal (see
// stopOnSignal) terminates the session and returns nil; so does the end of a stdio
// stream. A session the broker or the agent ended is reported on stderr, with exit
// status 255 (or the session's own, if it had one).
func (a *app) followForward(ctx context.Context, start api.StartSessionResponse, p forwardPlan) error {
	nc, _, err := a.client()
	if err != nil {
		return err
	}
	id := start.Session.ID
	var status frame.ExitStatus
	code, err := a.runForwardSession(ctx, nc, start, p, func(s frame.ExitStatus) { status = s })
	a.noticeMu.Lock()
	a.noticesDone = true // a connection still being torn down may yet report
	a.noticeMu.Unlock()
	p.listeners.close()
	if errors.Is(err, session.ErrForwardDone) {
		// The stream closed both ways: the proxied connection is over, and so is the
		// session.
		return a.terminateForward(id, "", true)
	}
	if err != nil {
		if stop, ok := errors.AsType[signalStop](context.Cause(ctx)); ok && ctx.Err() != nil {
			return a.terminateForward(id, stop.Error(), p.stdio != nil)
		}
		return hintError{fmt.Errorf("session %s: %w; it may still run", id, err), "tether terminate-session " + id}
	}
	why := status.Reason
	if why == "" || why == api.ReasonExit {
		why = fmt.Sprintf("exit status %d", code)
	}
	fmt.Fprintf(a.stderr, "tether: session %s ended (%s)\n", id, output.Clean(why))
	if code <= 0 || code > 255 {
		code = 255
	}
	return exitError{code}
}

// terminateForward ends session id after the CLI stopped following it (because of what,
// for the message; quiet says nothing when all went well).
func (a *app) terminateForward(id, because string, quiet bool) error {
	var resp api.TerminateSessionResponse
	if err := a.call(context.Background(), api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: id}, &resp); err != nil {
		return hintError{fmt.Errorf("session %s: could not terminate it: %w", id, err), "tether terminate-session " + id}
	}
	if !quiet {
		fmt.Fprintf(a.stderr, "tether: %s; terminated session %s\n", because, id)
	}
	return nil
}

// stopOnSignal returns ctx canceled with cause signalStop on SIGINT, SIGTERM or SIGHUP,
// and a function that stops listening for them.
func stopOnSignal(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case s := <-sigs:
			cancel(signalStop{s})
		case <-done:
		}
	})
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
		cancel(nil)
	}
}

// runForwardSession is the one call into the session's data path: session.Run with the
// plan's listeners or stream, notices to stderr.
func (a *app) runForwardSession(ctx context.Context, nc *nats.Conn, start api.StartSessionResponse, p forwardPlan,
	onExit func(frame.ExitStatus)) (int, error) {
	fo := &session.ForwardOptions{Notice: a.notice}
	for _, l := range p.listeners {
		fo.Listeners = append(fo.Listeners, session.ForwardListener{L: l.l, Dest: l.dest, Label: l.label})
	}
	if s := p.stdio; s != nil {
		fo.Stdio = &session.ForwardStdio{R: s.r, W: s.w, Dest: s.dest, Label: s.label}
	}
	return session.Run(ctx, nc, start, session.Options{Forward: fo, Logger: a.log, OnExit: onExit, Ended: a.sessionEnded(start.Session.ID)})
}

// notice prints a message of the data path (a refused connection) on stderr.
func (a *app) notice(msg string) {
	a.noticeMu.Lock()
	defer a.noticeMu.Unlock()
	if a.noticesDone {
		return // the session is over: its last connections' failures are no news
	}
	fmt.Fprintf(a.stderr, "tether: %s\n", output.Clean(msg))
}

// startPortSession starts a session of the Port document doc: it listens on the
// document's localPortNumber (the parameter given, else the document's default; 0: a
// free port) and forwards every connection to the destination the broker resolves from
// the document, as forward does.
func (a *app) startPortSession(ctx context.Context, o startOptions, params map[string][]string, doc api.DocumentDescription) error {
	port, err := localPortNumber(params, doc)
	if err != nil {
		return usageError{err}
	}
	bind := o.bind
	if bind == "" {
		bind = defaultBind
	}
	ctx, stop := stopOnSignal(ctx)
	defer stop()
	l, err := listenTCP(bind, port)
	if err != nil {
		return fmt.Errorf("localPortNumber %d: %w", port, err)
	}
	ls := localListeners{{l: l, name: listenerName(bind, mapping{}, l)}}
	defer ls.close()
	if w := bindWarning(bind); w != "" {
		fmt.Fprintln(a.stderr, w)
	}
	req := api.StartSessionRequest{Target: o.target, Document: o.document, Parameters: params, Reason: o.reason}
	var start api.StartSessionResponse
	if err := a.call(ctx, api.VerbStartSession, req, &start); err != nil {
		return err
	}
	ls[0].label = o.target + ":" + portDestination(start.Session.Forwards, params, doc)
	ls.print(a.stdout)
	return a.followForward(ctx, start, forwardPlan{listeners: ls})
}

// defaultBind is where forwards listen unless --bind says otherwise.
const defaultBind = "127.0.0.1"

// localPortNumber is the local port of a Port document's session: the parameter
// localPortNumber given, else the document's default, else 0.
func localPortNumber(params map[string][]string, doc api.DocumentDescription) (int, error) {
	const name = "localPortNumber"
	v, given := params[name]
	if !given {
		for _, p := range doc.Parameters {
			if p.Name == name {
				v = []string{p.Default}
			}
		}
	}
	switch {
	case len(v) == 0 || len(v) == 1 && v[0] == "":
		return 0, nil
	case len(v) > 1:
		return 0, fmt.Errorf("--parameters %s: given %d times, want one port", name, len(v))
	}
	p, err := parsePort(v[0])
	if err != nil {
		what := "--parameters " + name
		if !given {
			what = "document " + doc.Name + ": default " + name
		}
		return 0, fmt.Errorf("%s=%.20q: %v (0-65535; 0 picks a free port)", what, v[0], err)
	}
	return p, nil
}

// portDestination names a Port document session's destination for the user: as the
// broker resolved it, else from the parameters.
func portDestination(forwards []api.Forward, params map[string][]string, doc api.DocumentDescription) string {
	if len(forwards) > 0 {
		return forwards[0].String()
	}
	param := func(name string) string {
		if v := params[name]; len(v) > 0 {
			return v[0]
		}
		for _, p := range doc.Parameters {
			if p.Name == name {
				return p.Default
			}
		}
		return ""
	}
	f := api.Forward{Host: param("host")}
	f.Port, _ = parsePort(param("portNumber"))
	return f.String()
}
