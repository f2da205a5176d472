package clicmd

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newUpdateDocument() *cobra.Command {
	var req api.UpdateDocumentRequest
	var content string
	cmd := &cobra.Command{
		Use:   "update-document --name NAME --content file://PATH|TEXT [--document-format YAML|JSON] [--document-version $LATEST|N]",
		Short: "Store a new version of a session document",
		Long: "Store a new version of a session document; it becomes the version sessions use.\n" +
			"--content is read as for create-document. With --document-version, the update is\n" +
			"refused if the document has a newer version than the one given.",
		Example: "  tether get-document --name Ops-Shell > ops-shell.yaml\n" +
			"  tether update-document --name Ops-Shell --content file://ops-shell.yaml --document-version 3",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "the document's name")
	f.StringVar(&content, "content", "", "the new version: file://PATH, or the text itself")
	f.StringVar(&req.DocumentFormat, "document-format", "", "YAML or JSON (default: guessed from the content)")
	f.StringVar(&req.DocumentVersion, "document-version", "", "the version this update is based on: $LATEST or N")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if req.Name == "" {
			return usageError{errors.New("--name is required")}
		}
		if err := documentVersion(req.DocumentVersion); err != nil {
			return usageError{err}
		}
		var err error
		if req.Content, err = readContent("--content", content); err != nil {
			return usageError{err}
		}
		if req.DocumentFormat, err = documentFormat(req.DocumentFormat, req.Content); err != nil {
			return usageError{err}
		}
		var resp api.DocumentResponse
		if err := a.call(cmd.Context(), api.VerbUpdateDocument, req, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error { return writeDocument(w, resp.Document) })
	})
	return cmd
}
