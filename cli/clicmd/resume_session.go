package clicmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newResumeSession() *cobra.Command {
	var id string
	var noStdin bool
	var from int64
	cmd := &cobra.Command{
		Use:   "resume-session --session-id ID [-n] [--from N]",
		Short: "Reattach to an active session, after a lost connection (shortcut: resume-session ID)",
		Long: "Reattach to an active session you may resume, as start-session attaches to a new\n" +
			"one: a shell in the terminal, a command with stdout and stderr apart. It shows the\n" +
			"output from now on; --from N shows the recorded output after frame N first (a\n" +
			"client that lost its connection prints the N to use; --from 0: all of it).",
		Example: "  tether resume-session --session-id alice-0a1b2c3d\n" +
			"  tether resume-session alice-0a1b2c3d --from 1834",
		Args:        idArgs("session-id"),
		Annotations: ownSignals,
	}
	f := cmd.Flags()
	f.StringVar(&id, "session-id", "", "the session to resume")
	f.BoolVarP(&noStdin, "no-stdin", "n", false, "do not forward stdin to a command session")
	f.Int64Var(&from, "from", -1, "show the recorded output after this frame number first (default: only new output)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		id, err := oneID("session-id", id, args)
		if err != nil {
			return err
		}
		if from < -1 {
			return usageError{fmt.Errorf("--from %d: a frame number is 0 or more", from)}
		}
		return a.resumeSession(cmd.Context(), id, noStdin, from)
	})
	return cmd
}

// resumeSession attaches to session id again, showing the output after frame from first
// (-1: only the output from now on).
func (a *app) resumeSession(ctx context.Context, id string, noStdin bool, from int64) error {
	// ResumeSession only hands out the session's subjects: asking first, then finding
	// there is no terminal for an interactive session, leaves the session as it was.
	var start api.StartSessionResponse
	if err := a.call(ctx, api.VerbResumeSession, api.ResumeSessionRequest{SessionID: id}, &start); err != nil {
		return err
	}
	if start.Session.ID == "" {
		start.Session.ID = id
	}
	var tty *terminal
	if start.Session.Interactive {
		t, err := openTerminal(a.stdin)
		if err != nil { // openTerminal's message suggests giving a command, not for here
			return usageError{fmt.Errorf("session %s is interactive: resuming it needs a terminal on stdin", id)}
		}
		tty = t
	}
	after := start.OutputSeq
	if from >= 0 {
		after = uint64(from)
	}
	return a.attach(ctx, start, tty, attachment{noStdin: noStdin, verb: "Resuming", resume: true, after: after})
}
