package clicmd

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newDeleteDocument() *cobra.Command {
	var req api.DeleteDocumentRequest
	cmd := &cobra.Command{
		Use:     "delete-document --name NAME",
		Short:   "Delete a session document and all its versions",
		Example: "  tether delete-document --name Ops-Shell",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "the document's name")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if req.Name == "" {
			return usageError{errors.New("--name is required")}
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
