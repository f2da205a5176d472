package clicmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newCreateDocument() *cobra.Command {
	var req api.CreateDocumentRequest
	var content string
	cmd := &cobra.Command{
		Use:   "create-document --name NAME --content file://PATH|TEXT [--document-type Session] [--document-format YAML|JSON]",
		Short: "Store a new session document, version 1",
		Long: "Store a new session document. --content file://PATH reads the document from a file\n" +
			"(at most 64 KiB); any other value is the document itself. Without --document-format,\n" +
			"content starting with { is JSON, anything else YAML.",
		Example: "  tether create-document --name Ops-Shell --content file://ops-shell.yaml\n" +
			"  tether create-document --name Ops-Shell --content file://ops-shell.json --document-format JSON",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "the document's name")
	f.StringVar(&content, "content", "", "the document: file://PATH, or the text itself")
	f.StringVar(&req.DocumentType, "document-type", api.DocumentTypeSession, "the document type; only Session")
	f.StringVar(&req.DocumentFormat, "document-format", "", "YAML or JSON (default: guessed from the content)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if req.Name == "" {
			return usageError{errors.New("--name is required")}
		}
		if !strings.EqualFold(req.DocumentType, api.DocumentTypeSession) {
			return usageError{fmt.Errorf("--document-type %q: use %s", req.DocumentType, api.DocumentTypeSession)}
		}
		req.DocumentType = api.DocumentTypeSession
		var err error
		if req.Content, err = readContent("--content", content); err != nil {
			return usageError{err}
		}
		if req.DocumentFormat, err = documentFormat(req.DocumentFormat, req.Content); err != nil {
			return usageError{err}
		}
		var resp api.DocumentResponse
		if err := a.call(cmd.Context(), api.VerbCreateDocument, req, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error { return writeDocument(w, resp.Document) })
	})
	return cmd
}
