package clicmd

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newGetDocument() *cobra.Command {
	var req api.GetDocumentRequest
	cmd := &cobra.Command{
		Use:   "get-document --name NAME [--document-version N]",
		Short: "Print a session document's content (shortcut: get-document NAME)",
		Long: "Print a session document's content as stored, so that it can be saved, edited and\n" +
			"given back to update-document. With -o json, print the document's description too.",
		Example: "  tether get-document --name Tether-SessionManagerRunShell\n" +
			"  tether get-document --name Ops-Shell --document-version 2 > ops-shell.yaml\n" +
			"  tether get-document --name Ops-Shell -o json\n" +
			"  tether get-document Ops-Shell",
		Args: idArgs("name"),
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "the document's name")
	f.StringVar(&req.DocumentVersion, "document-version", "", "the version to read (default: the latest)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		var err error
		if req.Name, err = oneID("name", req.Name, args); err != nil {
			return err
		}
		if err := documentVersion(req.DocumentVersion); err != nil {
			return usageError{err}
		}
		var resp api.GetDocumentResponse
		if err := a.call(cmd.Context(), api.VerbGetDocument, req, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error {
			_, err := io.WriteString(w, output.CleanText(resp.Content))
			return err
		})
	})
	return cmd
}
