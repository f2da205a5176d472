package clicmd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

// pagedSessions serves alice-1..alice-n, max results a page (default 2), the next token
// being the index to start at; it records each request.
func pagedSessions(t *testing.T, e *env, n int) *[]api.DescribeSessionsRequest {
	var reqs []api.DescribeSessionsRequest
	e.handle(api.VerbDescribeSessions, func(data []byte) (any, error) {
		req := decode[api.DescribeSessionsRequest](t, data)
		reqs = append(reqs, req)
		start := 0
		if req.NextToken != "" {
			var err error
			if start, err = strconv.Atoi(strings.TrimPrefix(req.NextToken, "tok")); err != nil {
				return nil, &api.Error{Code: api.CodeBadRequest, Message: "bad token"}
			}
		}
		size := req.MaxResults
		if size == 0 {
			size = 2
		}
		var resp api.DescribeSessionsResponse
		for i := start; i < n && i < start+size; i++ {
			resp.Sessions = append(resp.Sessions, api.Session{ID: fmt.Sprintf("alice-%d", i+1), State: api.StateTerminated})
		}
		if start+size < n {
			resp.NextToken = fmt.Sprintf("tok%d", start+size)
		}
		return resp, nil
	})
	return &reqs
}

func ids(t *testing.T, stdout string) (got []string, next string) {
	t.Helper()
	r := decode[api.DescribeSessionsResponse](t, []byte(stdout))
	for _, s := range r.Sessions {
		got = append(got, s.ID)
	}
	return got, r.NextToken
}

func TestPagingFetchesEveryPage(t *testing.T) {
	e := newEnv(t)
	reqs := pagedSessions(t, e, 5)
	r := e.run("", "describe-sessions", "--state", "History", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	got, next := ids(t, r.stdout)
	if strings.Join(got, " ") != "alice-1 alice-2 alice-3 alice-4 alice-5" || next != "" {
		t.Errorf("sessions %q, next token %q; want all five and none", got, next)
	}
	var tokens []string
	for _, q := range *reqs {
		tokens = append(tokens, q.NextToken)
	}
	if strings.Join(tokens, ",") != ",tok2,tok4" {
		t.Errorf("requests carried tokens %q, want \"\", tok2, tok4", tokens)
	}
	if strings.Contains(r.stdout, "next_token") {
		t.Errorf("a complete listing printed a next token:\n%s", r.stdout)
	}
}

func TestPagingOnePage(t *testing.T) {
	e := newEnv(t)
	reqs := pagedSessions(t, e, 5)
	// JSON: the page and its next_token, for a script to go on.
	r := e.run("", "describe-sessions", "--state", "History", "--max-results", "2", "-o", "json")
	got, next := ids(t, r.stdout)
	if r.code != 0 || strings.Join(got, " ") != "alice-1 alice-2" || next != "tok2" {
		t.Fatalf("exit %d, sessions %q, next %q, stderr %q", r.code, got, next, r.stderr)
	}
	r = e.run("", "describe-sessions", "--state", "History", "--max-results", "2", "--next-token", next, "-o", "json")
	got, next = ids(t, r.stdout)
	if r.code != 0 || strings.Join(got, " ") != "alice-3 alice-4" || next != "tok4" {
		t.Fatalf("exit %d, sessions %q, next %q", r.code, got, next)
	}
	// --next-token alone is one page of the broker's size.
	r = e.run("", "describe-sessions", "--state", "History", "--next-token", next, "-o", "json")
	got, next = ids(t, r.stdout)
	if r.code != 0 || strings.Join(got, " ") != "alice-5" || next != "" {
		t.Fatalf("exit %d, sessions %q, next %q", r.code, got, next)
	}
	if n := len(*reqs); n != 3 {
		t.Errorf("%d requests for three single pages", n)
	}
	// A table: the rows on stdout, the next token as the last line on stderr.
	r = e.run("", "describe-sessions", "--state", "History", "--max-results", "2")
	if r.code != 0 || r.stderr != "NextToken: tok2\n" || strings.Count(r.stdout, "\n") != 3 || strings.Contains(r.stdout, "tok2") {
		t.Errorf("table: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	// The last page's table says nothing more.
	r = e.run("", "describe-sessions", "--state", "History", "--next-token", "tok4")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("last page: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("", "describe-sessions", "--max-results", "-1"); r.code != 2 || !strings.Contains(r.stderr, "--max-results -1: must be positive") {
		t.Errorf("negative --max-results: exit %d, stderr %q", r.code, r.stderr)
	}
}

// A broker that hands out the same token again would have tether list forever.
func TestPagingStopsOnARepeatedToken(t *testing.T) {
	e := newEnv(t)
	calls := 0
	e.handle(api.VerbListDocuments, func([]byte) (any, error) {
		calls++
		return api.ListDocumentsResponse{Documents: []api.DocumentDescription{{Name: "D"}}, NextToken: "same"}, nil
	})
	r := e.run("", "list-documents")
	if r.code != 1 || !strings.Contains(r.stderr, `the broker handed out next token "same" twice`) || calls != 2 {
		t.Errorf("exit %d, stderr %q, %d calls", r.code, r.stderr, calls)
	}
}

// Every list verb pages the same way.
func TestEveryListVerbPages(t *testing.T) {
	e := newEnv(t)
	var got []string
	page := func(verb string, next string, resp func(string) any) {
		e.handle(verb, func(data []byte) (any, error) {
			var req struct {
				MaxResults int    `json:"max_results"`
				NextToken  string `json:"next_token"`
			}
			if err := json.Unmarshal(data, &req); err != nil {
				return nil, &api.Error{Code: api.CodeBadRequest, Message: err.Error()}
			}
			got = append(got, fmt.Sprintf("%s %d %q", verb, req.MaxResults, req.NextToken))
			if req.NextToken == "" {
				return resp(next), nil
			}
			return resp(""), nil
		})
	}
	page(api.VerbDescribeInstances, "i2", func(n string) any { return api.DescribeInstancesResponse{NextToken: n} })
	page(api.VerbListRecordings, "r2", func(n string) any { return api.ListRecordingsResponse{NextToken: n} })
	page(api.VerbListDocuments, "d2", func(n string) any { return api.ListDocumentsResponse{NextToken: n} })
	for _, args := range [][]string{
		{"describe-instance-information"}, {"describe-instance-information", "--max-results", "7"},
		{"recordings", "list"}, {"list-recordings", "--max-results", "7"},
		{"list-documents"}, {"list-documents", "--max-results", "7"},
	} {
		r := e.run("", args...)
		if r.code != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if len(args) > 1 && args[len(args)-2] == "--max-results" && !strings.HasPrefix(r.stderr, "NextToken: ") {
			t.Errorf("%q: stderr %q, want the next token", args, r.stderr)
		}
	}
	want := []string{
		api.VerbDescribeInstances + ` 0 ""`, api.VerbDescribeInstances + ` 0 "i2"`, api.VerbDescribeInstances + ` 7 ""`,
		`ListRecordings 0 ""`, `ListRecordings 0 "r2"`, `ListRecordings 7 ""`,
		`ListDocuments 0 ""`, `ListDocuments 0 "d2"`, `ListDocuments 7 ""`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
