package clicmd

import (
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
	var req api.ListDocumentsRequest
	cmd := &cobra.Command{
		Use:     "list-documents [--session-type TYPE]",
		Aliases: []string{"documents"},
		Short:   "List the session documents, built-in and stored",
		Example: "  tether list-documents\n" +
			"  tether list-documents --session-type InteractiveCommands",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&req.SessionType, "session-type", "", "only documents of this session type: "+strings.Join(sessionTypes, ", "))
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if req.SessionType != "" {
			i := slices.IndexFunc(sessionTypes, func(t string) bool { return strings.EqualFold(t, req.SessionType) })
			if i < 0 {
				return usageError{fmt.Errorf("--session-type %q: use %s", req.SessionType, strings.Join(sessionTypes, ", "))}
			}
			req.SessionType = sessionTypes[i]
		}
		var resp api.ListDocumentsResponse
		if err := a.call(cmd.Context(), api.VerbListDocuments, req, &resp); err != nil {
			return err
		}
		if resp.Documents == nil {
			resp.Documents = []api.DocumentDescription{}
		}
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
