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

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/frame"
)

type startOptions struct {
	target   string
	document string
	reason   string
	noStdin  bool
	command  []string
}

func (a *app) newStartSession() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start-session --target INSTANCE [--document-name DOC] [--reason TEXT] [-n] [-- COMMAND [ARG...]]",
		Short: "Open a shell on an instance, or run a command there",
		Long: "Open an interactive shell on an instance, or, given a command, run it there with its\n" +
			"stdout and stderr kept apart and stdin forwarded, and exit with its exit status.",
		Example: "  tether start-session --target web-1\n" +
			"  tether start-session --target web-1 -- uname -a\n" +
			"  tether start-session --target web-1 -n -- systemctl restart nginx",
		Annotations: ownSignals,
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after the first argument is the command
	f.StringVar(&o.target, "target", "", "the instance to start the session on")
	f.StringVar(&o.document, "document-name", "", "the session document to use")
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
	interactive := len(o.command) == 0
	var tty *terminal
	if interactive {
		t, err := openTerminal(a.stdin)
		if err != nil {
			return usageError{hintError{err, fmt.Sprintf("tether start-session --target %s -- COMMAND [ARG...]", o.target)}}
		}
		tty = t
	}
	nc, _, err := a.client()
	if err != nil {
		return err
	}
	req := api.StartSessionRequest{
		Target:      o.target,
		Document:    o.document,
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
	id := start.Session.ID
	var status frame.ExitStatus
	opts := session.Options{
		Stdin:       a.stdin,
		Stdout:      a.stdout,
		Stderr:      a.stderr,
		Interactive: interactive,
		NoStdin:     o.noStdin,
		Cols:        req.Cols,
		Rows:        req.Rows,
		Logger:      a.log,
		Fetch:       a.transcriptFetcher(id),
		OnExit:      func(s frame.ExitStatus) { status = s },
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var code int
	if interactive {
		fmt.Fprintf(a.stderr, "\nStarting session with SessionId: %s\n\n", id)
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
