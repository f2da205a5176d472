package clicmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

type startOptions struct {
	target     string
	document   string
	parameters []string
	reason     string
	noStdin    bool
	command    []string
	bind       string // a Port document's local address
}

func (a *app) newStartSession() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start-session --target INSTANCE [--document-name DOC] [--parameters P]... [--reason TEXT] [-n] [-- COMMAND [ARG...]]",
		Short: "Open a shell on an instance, or run a command there",
		Long: "Open an interactive shell on an instance, or, given a command, run it there with its\n" +
			"stdout and stderr kept apart and stdin forwarded, and exit with its exit status.\n\n" +
			"A command document (--document-name) runs its own command: in a terminal if its\n" +
			"session type is InteractiveCommands, with stdout and stderr apart if it is\n" +
			"NonInteractiveCommands. --parameters gives the document's parameters, as JSON\n" +
			"({\"name\":[\"value\"]}) or as name=value[,name=value...]; it can be repeated.\n\n" +
			"A Port document forwards a local port (its parameter localPortNumber; 0 or none: a\n" +
			"free one, printed) on --bind to the destination the document names, as\n" +
			"`tether forward` does.",
		Example: "  tether start-session --target web-1\n" +
			"  tether start-session --target web-1 -- uname -a\n" +
			"  tether start-session --target web-1 -n -- systemctl restart nginx\n" +
			"  tether start-session --target web-1 --document-name Tether-StartInteractiveCommand \\\n" +
			"      --parameters command=top\n" +
			"  tether start-session --target web-1 --document-name Ops-Restart \\\n" +
			"      --parameters '{\"service\":[\"nginx\"],\"flags\":[\"--now,--quiet\"]}'\n" +
			"  tether start-session --target web-1 --document-name Tether-StartPortForwardingSession \\\n" +
			"      --parameters portNumber=80,localPortNumber=9999",
		Annotations: ownSignals,
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after the first argument is the command
	f.StringVar(&o.target, "target", "", "the instance to start the session on")
	f.StringVar(&o.document, "document-name", "", "the session document to use")
	f.StringArrayVar(&o.parameters, "parameters", nil, "the document's parameters: JSON, or name=value[,name=value...] (repeatable)")
	f.StringVar(&o.reason, "reason", "", "why you start the session, for the audit log")
	f.BoolVarP(&o.noStdin, "no-stdin", "n", false, "do not forward stdin: the command reads EOF")
	f.StringVar(&o.bind, "bind", defaultBind, "a Port document's local address to listen on")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if o.target == "" {
			return usageError{errors.New("--target is required")}
		}
		o.command = args
		return a.startSession(cmd.Context(), o)
	})
	return cmd
}

// startSession starts a session and runs it to its end.
func (a *app) startSession(ctx context.Context, o startOptions) error {
	params, err := parseParameters(o.parameters)
	if err != nil {
		return usageError{err}
	}
	interactive := len(o.command) == 0
	if interactive && o.document != "" {
		// The document says what runs; its session type says whether in a terminal.
		var doc api.GetDocumentResponse
		if err := a.call(ctx, api.VerbGetDocument, api.GetDocumentRequest{Name: o.document}, &doc); err != nil {
			return err
		}
		if doc.Document.SessionType == api.SessionTypePort {
			return a.startPortSession(ctx, o, params, doc.Document)
		}
		if interactive, err = documentInteractive(o.document, doc.Document.SessionType); err != nil {
			return err
		}
	}
	var tty *terminal
	if interactive {
		t, err := openTerminal(a.stdin)
		if err != nil {
			return usageError{hintError{err, fmt.Sprintf("tether start-session --target %s -- COMMAND [ARG...]", o.target)}}
		}
		tty = t
	}
	req := api.StartSessionRequest{
		Target:      o.target,
		Document:    o.document,
		Parameters:  params,
		Command:     o.command,
		Interactive: interactive,
		Term:        a.getenv("TERM"),
		Reason:      o.reason,
	}
	if tty != nil {
		sz := tty.size()
		req.Cols, req.Rows = sz.Cols, sz.Rows
	}
	var start api.StartSessionResponse
	if err := a.call(ctx, api.VerbStartSession, req, &start); err != nil {
		return err
	}
	return a.attach(ctx, start, tty, attachment{noStdin: o.noStdin, verb: "Starting"})
}

// documentInteractive tells from a document's session type whether its sessions run in
// a terminal.
func documentInteractive(name, sessionType string) (bool, error) {
	switch sessionType {
	case api.SessionTypeStandardStream, api.SessionTypeInteractive, "":
		return true, nil
	case api.SessionTypeNonInteractive:
		return false, nil
	}
	return false, fmt.Errorf("document %s: session type %q is not supported", name, sessionType)
}

// attachment says how to attach to a session.
type attachment struct {
	noStdin bool
	verb    string // "Starting", "Resuming"
	resume  bool
	after   uint64 // the output already shown: frames up to this number
}

// attach follows a started or resumed session to its end: in the terminal tty if it is
// not nil, else as a command with stdout and stderr apart. It returns exitError with the
// remote exit code when that is not 0 (255 when the session ended without one).
func (a *app) attach(ctx context.Context, start api.StartSessionResponse, tty *terminal, at attachment) error {
	nc, _, err := a.client()
	if err != nil {
		return err
	}
	interactive := tty != nil
	id := start.Session.ID
	var status frame.ExitStatus
	opts := session.Options{
		Stdin:       a.stdin,
		Stdout:      a.stdout,
		Stderr:      a.stderr,
		Interactive: interactive,
		NoStdin:     at.noStdin,
		Resume:      at.resume,
		After:       at.after,
		Logger:      a.log,
		Fetch:       a.transcriptFetcher(id),
		Ended:       a.sessionEnded(id),
		OnExit:      func(s frame.ExitStatus) { status = s },
	}
	if tty != nil {
		sz := tty.size()
		opts.Cols, opts.Rows = sz.Cols, sz.Rows
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var code int
	if interactive {
		fmt.Fprintf(a.stderr, "\n%s session with SessionId: %s\n\n", at.verb, id)
		code, err = a.runInteractive(ctx, cancel, nc, start, tty, opts)
	} else {
		// A reader of our output that goes away must not kill us before we tell the
		// agent: writes return EPIPE instead (session.ErrBrokenPipe).
		signal.Ignore(syscall.SIGPIPE)
		code, err = a.runCommand(ctx, cancel, nc, start, opts)
	}
	if err != nil {
		if errors.Is(err, session.ErrBrokenPipe) {
			return exitError{128 + int(syscall.SIGPIPE)} // silent, as any filter in a pipe
		}
		resume := "tether resume-session " + id
		if d, ok := errors.AsType[*session.DetachedError](err); ok && d.Last > 0 {
			resume += fmt.Sprintf(" --from %d", d.Last)
		}
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
			err = cause
		}
		if stop, ok := errors.AsType[signalStop](err); ok {
			return a.detached(id, interactive, stop, resume)
		}
		return hintError{fmt.Errorf("session %s: %w; it may still run", id, err),
			resume + " (or end it: tether terminate-session " + id + ")"}
	}
	ended := ""
	if status.Reason != "" && status.Reason != api.ReasonExit {
		ended = " (" + status.Reason + ")"
	}
	if interactive {
		fmt.Fprintf(a.stderr, "\nExiting session with sessionId: %s%s.\n\n", id, ended)
	} else if ended != "" {
		fmt.Fprintf(a.stderr, "tether: session %s ended%s\n", id, ended)
	}
	if code < 0 || code > 255 {
		code = 255
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// runInteractive runs a shell session with the local terminal in raw mode, restored on
// every way out.
func (a *app) runInteractive(ctx context.Context, cancel context.CancelCauseFunc, nc *nats.Conn,
	start api.StartSessionResponse, tty *terminal, opts session.Options) (int, error) {
	restore, err := tty.makeRaw()
	if err != nil {
		return -1, err
	}
	defer restore()

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	notifyResize(sigs)
	defer signal.Stop(sigs)
	resize := make(chan frame.Size, 1)
	opts.Resize = resize
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if !isResize(s) {
					cancel(signalStop{s})
					continue
				}
				sz := tty.size()
				select { // keep only the latest size
				case resize <- sz:
				default:
					select {
					case <-resize:
					default:
					}
					resize <- sz
				}
			}
		}
	})
	defer func() { close(done); wg.Wait() }()
	return session.Run(ctx, nc, start, opts)
}

// runCommand runs a non-interactive session. SIGINT is forwarded to the remote process; a
// third one stops waiting for it. SIGTERM and SIGHUP are forwarded too, and stop the CLI
// if the session has not ended stopGrace later: `timeout 60 tether …` always returns.
func (a *app) runCommand(ctx context.Context, cancel context.CancelCauseFunc, nc *nats.Conn,
	start api.StartSessionResponse, opts session.Options) (int, error) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	forward := make(chan os.Signal, 8)
	opts.Interrupt = forward
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		n := 0
		var stopping <-chan time.Time
		var stopSig os.Signal
		for {
			select {
			case <-done:
				return
			case <-stopping:
				cancel(signalStop{stopSig})
				return
			case s := <-sigs:
				if s == os.Interrupt {
					if n++; n >= 3 {
						cancel(signalStop{s})
						return
					}
				} else if stopping == nil {
					stopSig, stopping = s, time.After(stopGrace)
				}
				select {
				case forward <- s:
				default:
				}
			}
		}
	})
	defer func() { close(done); wg.Wait() }()
	return session.Run(ctx, nc, start, opts)
}

// transcriptFetcher reads a session's recorded output frames, for gap repair.
func (a *app) transcriptFetcher(id string) func(context.Context, uint64, int) ([]api.TranscriptFrame, error) {
	return func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
		var resp api.ReadTranscriptResponse
		err := a.call(ctx, api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: id, After: after, Max: max}, &resp)
		return resp.Frames, err
	}
}

// sessionEnded asks the broker whether session id has ended, and how (session.Options.Ended).
func (a *app) sessionEnded(id string) func(context.Context) (frame.ExitStatus, bool, error) {
	return func(ctx context.Context) (frame.ExitStatus, bool, error) {
		var resp api.GetSessionResponse
		if err := a.call(ctx, api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &resp); err != nil {
			return frame.ExitStatus{}, false, err
		}
		if !resp.Session.Ended() {
			return frame.ExitStatus{}, false, nil
		}
		code, why := resp.Session.EndStatus()
		return frame.ExitStatus{Code: code, Reason: why}, true, nil
	}
}

// stopGrace is how long a command session's CLI waits, after forwarding SIGTERM or SIGHUP,
// for the session to end before it stops by itself.
const stopGrace = 2 * time.Second

// signalStop is why the CLI stopped following a session: a signal. The session may go on.
type signalStop struct{ sig os.Signal }

func (e signalStop) Error() string { return fmt.Sprintf("stopped by signal %v", e.sig) }

// code is the exit status of a CLI stopped by the signal, as a shell reports a process
// the signal killed: 128+N.
func (e signalStop) code() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// detached reports, after a signal stopped the CLI, whether session id still runs: the
// broker says, since the signal may have ended it or not. It returns the exit error.
func (a *app) detached(id string, interactive bool, stop signalStop, resume string) error {
	ctx, cancel := context.WithTimeout(context.Background(), detachedAsk)
	defer cancel()
	nl := "\n"
	if interactive {
		nl = "\r\n"
	}
	state, err := a.sessionState(ctx, id)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "%stether: %v; could not learn whether session %s still runs: %v%s", nl, stop, id, err, nl)
	case state == "":
		fmt.Fprintf(a.stderr, "%stether: %v; session %s has ended.%s", nl, stop, id, nl)
	default:
		fmt.Fprintf(a.stderr, "%stether: %v; session %s still runs (%s).%s"+
			"  Resume it:    %s%s  End it:       tether terminate-session %s%s",
			nl, stop, id, state, nl, resume, nl, id, nl)
	}
	return exitError{stop.code()}
}

// detachedAsk bounds the question to the broker after a signal.
const detachedAsk = 3 * time.Second

// sessionState is the state of session id if it is active, "" if it is not.
func (a *app) sessionState(ctx context.Context, id string) (string, error) {
	_, cfg, err := a.client()
	if err != nil {
		return "", err
	}
	req := api.DescribeSessionsRequest{State: "Active", Owner: cfg.User}
	for range 20 {
		var resp api.DescribeSessionsResponse
		if err := a.call(ctx, api.VerbDescribeSessions, req, &resp); err != nil {
			return "", err
		}
		for _, se := range resp.Sessions {
			if se.ID == id {
				return se.State, nil
			}
		}
		if resp.NextToken == "" {
			return "", nil
		}
		req.NextToken = resp.NextToken
	}
	return "", errors.New("too many active sessions to look through")
}
