package clicmd

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newUpdatePreferences() *cobra.Command {
	var content, format string
	cmd := &cobra.Command{
		Use:   "update-preferences --content file://PATH|TEXT [--document-format YAML|JSON]",
		Short: "Replace the session preferences with a new version of their document",
		Long: "Store a new version of the " + api.DocPreferences + " document, the\n" +
			"session preferences. --content is read as for create-document.",
		Example: "  tether get-document --name " + api.DocPreferences + " > prefs.yaml\n" +
			"  tether update-preferences --content file://prefs.yaml",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&content, "content", "", "the preferences document: file://PATH, or the text itself")
	f.StringVar(&format, "document-format", "", "YAML or JSON (default: guessed from the content)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		req := api.UpdateDocumentRequest{Name: api.DocPreferences}
		var err error
		if req.Content, err = readContent("--content", content); err != nil {
			return usageError{err}
		}
		if req.DocumentFormat, err = documentFormat(format, req.Content); err != nil {
			return usageError{err}
		}
		var resp api.DocumentResponse
		if err := a.call(cmd.Context(), api.VerbUpdatePreferences, req, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error { return writeDocument(w, resp.Document) })
	})
	return cmd
}
