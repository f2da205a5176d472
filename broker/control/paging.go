package control

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
)

// Paging of the list verbs, as aws ssm pages: max_results asks for at most that many
// items (1 to maxPage), next_token from one answer asks for the page after it. Items are
// in a stable order (each list's own: newest first, or by id or name), and a token holds
// the position of the last item handed out, so a page starts right after it: no item the
// caller may see is skipped or repeated, whatever was added or removed between pages.
// Tokens are opaque to callers; one that does not decode is refused, naming next_token.
const (
	// defaultPage is the page of the lists that were capped before paging
	// (DescribeSessions, ListRecordings); the others answer in full unless asked to page.
	defaultPage = 100
	maxPage     = 200
)

// pageKey places an item in its list's order: by rank, then id; ids are unique.
type pageKey struct {
	Rank int64  `json:"r,omitempty"`
	ID   string `json:"i"`
}

func (a pageKey) compare(b pageKey) int {
	return cmp.Or(cmp.Compare(a.Rank, b.Rank), strings.Compare(a.ID, b.ID))
}

// pageToken is a next_token's content: the verb it pages and the last item's key.
type pageToken struct {
	Verb  string  `json:"v"`
	After pageKey `json:"a"`
}

// pageRequest is a checked max_results and next_token.
type pageRequest struct {
	max   int      // 0: everything
	after *pageKey // nil: from the start
}

// checkPage checks a list request's max_results and next_token. capped says the verb
// had a page of defaultPage before paging; others default to the whole list.
func checkPage(verb string, maxResults int, token string, capped bool) (pageRequest, error) {
	var p pageRequest
	if maxResults < 0 || maxResults > maxPage {
		return p, badRequest("%s: max_results must be between 1 and %d, not %d", verb, maxPage, maxResults)
	}
	switch {
	case maxResults > 0:
		p.max = maxResults
	case capped || token != "":
		p.max = defaultPage
	}
	if token == "" {
		return p, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	var t pageToken
	if err == nil && len(b) <= 1024 {
		err = decode(verb, b, &t)
	}
	if err != nil || len(b) > 1024 || t.Verb != verb || t.After.ID == "" {
		return p, badRequest("%s: next_token is not a token this verb handed out; pass next_token exactly as the previous page returned it, or omit it for the first page", verb)
	}
	p.after = &t.After
	return p, nil
}

// page sorts items by key and returns the page p asks for, with the token of the next
// page ("" when this is the last).
func page[T any](verb string, items []T, key func(T) pageKey, p pageRequest) ([]T, string) {
	slices.SortFunc(items, func(a, b T) int { return key(a).compare(key(b)) })
	if p.after != nil {
		i, _ := slices.BinarySearchFunc(items, *p.after, func(it T, k pageKey) int { return key(it).compare(k) })
		for i < len(items) && key(items[i]).compare(*p.after) <= 0 {
			i++
		}
		items = items[i:]
	}
	if p.max == 0 || len(items) <= p.max {
		return items, ""
	}
	items = items[:p.max]
	b, _ := json.Marshal(pageToken{Verb: verb, After: key(items[len(items)-1])})
	return items, base64.RawURLEncoding.EncodeToString(b)
}
