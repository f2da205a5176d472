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
	cmd := &cobra.Command{
		Use:   "resume-session --session-id ID [-n]",
		Short: "Reattach to an active session, after a lost connection (shortcut: resume-session ID)",
		Long: "Reattach to an active session you may resume, as start-session attaches to a new\n" +
			"one: a shell in the terminal, a command with stdout and stderr apart.",
		Example: "  tether resume-session --session-id alice-0a1b2c3d\n" +
			"  tether resume-session alice-0a1b2c3d",
		Args:        idArgs("session-id"),
		Annotations: ownSignals,
	}
	f := cmd.Flags()
	f.StringVar(&id, "session-id", "", "the session to resume")
	f.BoolVarP(&noStdin, "no-stdin", "n", false, "do not forward stdin to a command session")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		id, err := oneID("session-id", id, args)
		if err != nil {
			return err
		}
		return a.resumeSession(cmd.Context(), id, noStdin)
	})
	return cmd
}

func (a *app) resumeSession(ctx context.Context, id string, noStdin bool) error {
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
	return a.attach(ctx, start, tty, noStdin, "Resuming")
}
