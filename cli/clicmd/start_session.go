package clicmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

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
			"({\"name\":[\"value\"]}) or as name=value[,name=value...]; it can be repeated.",
		Example: "  tether start-session --target web-1\n" +
			"  tether start-session --target web-1 -- uname -a\n" +
			"  tether start-session --target web-1 -n -- systemctl restart nginx\n" +
			"  tether start-session --target web-1 --document-name Tether-StartInteractiveCommand \\\n" +
			"      --parameters command=top\n" +
			"  tether start-session --target web-1 --document-name Ops-Restart \\\n" +
			"      --parameters '{\"service\":[\"nginx\"],\"flags\":[\"--now,--quiet\"]}'",
		Annotations: ownSignals,
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after the first argument is the command
	f.StringVar(&o.target, "target", "", "the instance to start the session on")
	f.StringVar(&o.document, "document-name", "", "the session document to use")
	f.StringArrayVar(&o.parameters, "parameters", nil, "the document's parameters: JSON, or name=value[,name=value...] (repeatable)")
	f.StringVar(&o.reason, "reason", "", "why you start the session, for the audit log")
	f.BoolVarP(&o.noStdin, "no-stdin", "n", false, "do not forward stdin: the command reads EOF")
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
	return a.attach(ctx, start, tty, o.noStdin, "Starting")
}

// documentInteractive tells from a document's session type whether its sessions run in
// a terminal.
func documentInteractive(name, sessionType string) (bool, error) {
	switch sessionType {
	case api.SessionTypeStandardStream, api.SessionTypeInteractive, "":
		return true, nil
	case api.SessionTypeNonInteractive:
		return false, nil
	case api.SessionTypePort:
		return false, fmt.Errorf("document %s: port forwarding sessions are not supported yet", name)
	}
	return false, fmt.Errorf("document %s: session type %q is not supported", name, sessionType)
}

// attach follows a started or resumed session to its end: in the terminal tty if it is
// not nil, else as a command with stdout and stderr apart. It returns exitError with the
// remote exit code when that is not 0.
func (a *app) attach(ctx context.Context, start api.StartSessionResponse, tty *terminal, noStdin bool, verb string) error {
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
		NoStdin:     noStdin,
		Logger:      a.log,
		Fetch:       a.transcriptFetcher(id),
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
		fmt.Fprintf(a.stderr, "\n%s session with SessionId: %s\n\n", verb, id)
		code, err = a.runInteractive(ctx, cancel, nc, start, tty, opts)
	} else {
		code, err = a.runCommand(ctx, cancel, nc, start, opts)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
			err = cause
		}
		return hintError{fmt.Errorf("session %s: %w", id, err), "tether terminate-session " + id}
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
					cancel(fmt.Errorf("stopped by signal %v; the session may still be running", s))
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

// runCommand runs a non-interactive session, forwarding SIGINT, SIGTERM and SIGHUP to the
// remote process; a third signal stops waiting for it.
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
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if n++; n >= 3 {
					cancel(errors.New("interrupted; the command may still be running"))
					return
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
