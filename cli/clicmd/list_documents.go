package clicmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

var sessionTypes = []string{api.SessionTypeStandardStream, api.SessionTypeInteractive,
	api.SessionTypeNonInteractive, api.SessionTypePort}

func (a *app) newListDocuments() *cobra.Command {
	var (
		req api.ListDocumentsRequest
		pf  pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list-documents [--session-type TYPE]",
		Aliases: []string{"documents"},
		Short:   "List the session documents, built-in and stored",
		Example: "  tether list-documents\n" +
			"  tether list-documents --session-type InteractiveCommands",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&req.SessionType, "session-type", "", "only documents of this session type: "+strings.Join(sessionTypes, ", "))
	addPageFlags(cmd, &pf, "documents")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if err := pf.check(); err != nil {
			return err
		}
		if req.SessionType != "" {
			i := slices.IndexFunc(sessionTypes, func(t string) bool { return strings.EqualFold(t, req.SessionType) })
			if i < 0 {
				return usageError{fmt.Errorf("--session-type %q: use %s", req.SessionType, strings.Join(sessionTypes, ", "))}
			}
			req.SessionType = sessionTypes[i]
		}
		resp, err := a.listDocuments(cmd.Context(), req, pf)
		if err != nil {
			return err
		}
		defer a.printNextToken(resp.NextToken)
		return a.print(resp, func(w io.Writer) error { return writeDocuments(w, resp) })
	})
	return cmd
}

// writeDocuments prints a ListDocuments response as a table.
func writeDocuments(w io.Writer, resp api.ListDocumentsResponse) error {
	t := output.NewTable(w, "NAME", "TYPE", "VERSION", "OWNER", "BUILTIN")
	for _, d := range resp.Documents {
		t.Row(d.Name, d.SessionType, strconv.Itoa(d.Version), d.Owner, strconv.FormatBool(d.Builtin))
	}
	return t.Flush()
}

// listDocuments fetches the documents, every page or the one pf asks for.
func (a *app) listDocuments(ctx context.Context, req api.ListDocumentsRequest, pf pageFlags) (api.ListDocumentsResponse, error) {
	resp := api.ListDocumentsResponse{Documents: []api.DocumentDescription{}}
	next, err := pf.fetch(func(token string) (string, error) {
		req.MaxResults, req.NextToken = pf.maxResults, token
		var page api.ListDocumentsResponse
		if err := a.call(ctx, api.VerbListDocuments, req, &page); err != nil {
			return "", err
		}
		resp.Documents = append(resp.Documents, page.Documents...)
		return page.NextToken, nil
	})
	resp.NextToken = next
	return resp, err
}
