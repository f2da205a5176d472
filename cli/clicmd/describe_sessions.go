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
	var (
		req api.DescribeSessionsRequest
		pf  pageFlags
	)
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
	addPageFlags(cmd, &pf, "sessions")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		switch strings.ToLower(req.State) {
		case "active":
			req.State = "Active"
		case "history":
			req.State = "History"
		default:
			return usageError{fmt.Errorf("--state %q: use Active or History", req.State)}
		}
		if err := pf.check(); err != nil {
			return err
		}
		resp := api.DescribeSessionsResponse{Sessions: []api.Session{}}
		next, err := pf.fetch(func(token string) (string, error) {
			req.MaxResults, req.NextToken = pf.maxResults, token
			var page api.DescribeSessionsResponse
			if err := a.call(cmd.Context(), api.VerbDescribeSessions, req, &page); err != nil {
				return "", err
			}
			resp.Sessions = append(resp.Sessions, page.Sessions...)
			return page.NextToken, nil
		})
		if err != nil {
			return err
		}
		resp.NextToken = next
		defer a.printNextToken(next)
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
