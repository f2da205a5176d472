package clicmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newTerminateSession() *cobra.Command {
	var flagID string
	cmd := &cobra.Command{
		Use:   "terminate-session --session-id ID",
		Short: "End a session (shortcut: terminate-session ID)",
		Example: "  tether terminate-session --session-id alice-0a1b2c3d\n" +
			"  tether terminate-session alice-0a1b2c3d",
		Args: idArgs("session-id"),
	}
	cmd.Flags().StringVar(&flagID, "session-id", "", "the session to end")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		id, err := oneID("session-id", flagID, args)
		if err != nil {
			return err
		}
		var resp api.TerminateSessionResponse
		if err := a.call(cmd.Context(), api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: id}, &resp); err != nil {
			return err
		}
		if resp.SessionID == "" {
			resp.SessionID = id
		}
		return a.print(resp, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Terminated session %s\n", resp.SessionID)
			return err
		})
	})
	return cmd
}
