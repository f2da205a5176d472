package clicmd

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newRecordings() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recordings",
		Short: "List the session recordings shipped to storage",
	}
	cmd.AddCommand(a.newListRecordings("list"))
	return cmd
}

// newListRecordings is "recordings list", and list-recordings as aws would spell it.
func (a *app) newListRecordings(name string) *cobra.Command {
	var (
		req   api.ListRecordingsRequest
		since string
		pf    pageFlags
	)
	cmd := &cobra.Command{
		Use:   name + " [--target T] [--user U] [--since D|TIME]",
		Short: "List shipped recordings, newest first",
		Example: "  tether recordings list --since 24h\n" +
			"  tether recordings list --target web-1 --since 2026-05-01T00:00:00Z",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&req.Target, "target", "", "only recordings of sessions on this instance")
	f.StringVar(&req.User, "user", "", "only recordings of this user's sessions")
	f.StringVar(&since, "since", "", "only sessions started since: a duration ago (24h) or an RFC 3339 time")
	addPageFlags(cmd, &pf, "recordings")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if since != "" {
			t, err := parseSince(since, time.Now())
			if err != nil {
				return usageError{err}
			}
			req.Since = t
		}
		if err := pf.check(); err != nil {
			return err
		}
		resp := api.ListRecordingsResponse{Recordings: []api.Recording{}}
		next, err := pf.fetch(func(token string) (string, error) {
			req.MaxResults, req.NextToken = pf.maxResults, token
			var page api.ListRecordingsResponse
			if err := a.call(cmd.Context(), api.VerbListRecordings, req, &page); err != nil {
				return "", err
			}
			resp.Recordings = append(resp.Recordings, page.Recordings...)
			return page.NextToken, nil
		})
		if err != nil {
			return err
		}
		resp.NextToken = next
		defer a.printNextToken(next)
		return a.print(resp, func(w io.Writer) error {
			t := output.NewTable(w, "SESSION ID", "OWNER", "TARGET", "DOCUMENT", "START", "END",
				"REASON", "BYTES", "ENCRYPTION")
			for _, r := range resp.Recordings {
				t.Row(r.SessionID, r.Owner, r.Target, r.Document, output.Time(r.StartedAt),
					output.Time(r.EndedAt), r.Reason, strconv.FormatInt(r.OutputBytes, 10), r.Encryption)
			}
			return t.Flush()
		})
	})
	return cmd
}

// parseSince reads --since: a positive duration before now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since %s: the duration must be positive", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration ago like 24h, or an RFC 3339 time like 2026-05-01T00:00:00Z", s)
	}
	return t, nil
}
