package control_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/wire/api"
)

// ListDocuments pages over a real broker: more documents than a page, every one exactly
// once, in name order; a forged token and an out-of-range max_results are refused.
func TestListDocumentsPages(t *testing.T) {
	srv := brokertest.NewServer(t)
	for i := range 40 { // more than a page, and enough to be decided together (itemsAtOnce)
		req := api.CreateDocumentRequest{Name: fmt.Sprintf("Paged-%02d", i), Content: "schemaVersion: '1.0'\nsessionType: Standard_Stream\n"}
		if err := srv.Call(srv.Admin, "admin", api.VerbCreateDocument, req, nil); err != nil {
			t.Fatal(err)
		}
	}
	var whole api.ListDocumentsResponse
	if err := srv.Call(srv.Admin, "admin", api.VerbListDocuments, api.ListDocumentsRequest{}, &whole); err != nil {
		t.Fatal(err)
	}
	if whole.NextToken != "" || len(whole.Documents) < 40 {
		t.Fatalf("unpaged list: %d documents, token %q", len(whole.Documents), whole.NextToken)
	}
	var names []string
	req := api.ListDocumentsRequest{MaxResults: 5}
	for pages := 0; ; pages++ {
		var resp api.ListDocumentsResponse
		if err := srv.Call(srv.Admin, "admin", api.VerbListDocuments, req, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Documents) > 5 || pages > 50 {
			t.Fatalf("page of %d documents (page %d)", len(resp.Documents), pages)
		}
		for _, d := range resp.Documents {
			names = append(names, d.Name)
		}
		if resp.NextToken == "" {
			break
		}
		req.NextToken = resp.NextToken
	}
	var want []string
	for _, d := range whole.Documents {
		want = append(want, d.Name)
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("pages gave %v, want %v", names, want)
	}
	err := srv.Call(srv.Admin, "admin", api.VerbListDocuments, api.ListDocumentsRequest{NextToken: "forged"}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "next_token") {
		t.Errorf("forged token: %v", err)
	}
	err = srv.Call(srv.Admin, "admin", api.VerbListDocuments, api.ListDocumentsRequest{MaxResults: 1000}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "between 1 and 200") {
		t.Errorf("max_results 1000: %v", err)
	}
}
