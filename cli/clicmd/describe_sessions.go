package clicmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newDescribeSessions() *cobra.Command {
	var req api.DescribeSessionsRequest
	cmd := &cobra.Command{
		Use:     "describe-sessions",
		Aliases: []string{"sessions"},
		Short:   "List active sessions or the session history",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&req.State, "state", "Active", "Active or History")
	f.StringVar(&req.Target, "target", "", "only sessions on this instance")
	f.StringVar(&req.Owner, "owner", "", "only sessions of this user")
	f.IntVar(&req.MaxResults, "max-results", 0, "at most this many sessions (0: the broker's default)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		switch strings.ToLower(req.State) {
		case "active":
			req.State = "Active"
		case "history":
			req.State = "History"
		default:
			return usageError{fmt.Errorf("--state %q: use Active or History", req.State)}
		}
		if req.MaxResults < 0 {
			return usageError{fmt.Errorf("--max-results %d: must not be negative", req.MaxResults)}
		}
		var resp api.DescribeSessionsResponse
		if err := a.call(cmd.Context(), api.VerbDescribeSessions, req, &resp); err != nil {
			return err
		}
		if resp.Sessions == nil {
			resp.Sessions = []api.Session{}
		}
		return a.print(resp, func(w io.Writer) error {
			t := output.NewTable(w, "SESSION ID", "OWNER", "TARGET", "DOCUMENT", "STATE",
				"START DATE", "END DATE", "REASON")
			for _, s := range resp.Sessions {
				t.Row(s.ID, s.Owner, s.Target, s.Document, s.State,
					output.Time(s.StartedAt), output.Time(s.EndedAt), s.Reason)
			}
			return t.Flush()
		})
	})
	return cmd
}
