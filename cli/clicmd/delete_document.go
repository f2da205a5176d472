package clicmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newDeleteDocument() *cobra.Command {
	var req api.DeleteDocumentRequest
	cmd := &cobra.Command{
		Use:     "delete-document --name NAME",
		Short:   "Delete a session document and all its versions (shortcut: delete-document NAME)",
		Example: "  tether delete-document --name Ops-Shell\n  tether delete-document Ops-Shell",
		Args:    idArgs("name"),
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "the document's name")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		var err error
		if req.Name, err = oneID("name", req.Name, args); err != nil {
			return err
		}
		if err := a.call(cmd.Context(), api.VerbDeleteDocument, req, nil); err != nil {
			return err
		}
		return a.print(req, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Deleted document %s\n", req.Name)
			return err
		})
	})
	return cmd
}
