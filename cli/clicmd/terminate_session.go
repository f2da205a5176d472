package clicmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newTerminateSession() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "terminate-session SESSION_ID",
		Short: "End a session",
		Args:  exactArgs("SESSION_ID"),
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		var resp api.TerminateSessionResponse
		if err := a.call(cmd.Context(), api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: args[0]}, &resp); err != nil {
			return err
		}
		if resp.SessionID == "" {
			resp.SessionID = args[0]
		}
		return a.print(resp, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Terminated session %s\n", resp.SessionID)
			return err
		})
	})
	return cmd
}
