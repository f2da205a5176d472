package control

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Pages of a list taken while items come and go never skip or repeat an item that is
// there throughout.
func TestPageNeverSkipsOrRepeats(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []api.Session
	for i := range 23 {
		// Several sessions share a start time: the id breaks the tie.
		all = append(all, api.Session{ID: fmt.Sprintf("u-%02d", i), StartedAt: base.Add(time.Duration(i/3) * time.Minute)})
	}
	key := func(se api.Session) pageKey { return newestFirst(se.StartedAt, se.ID) }
	var seen []string
	p, err := checkPage(api.VerbDescribeSessions, 5, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for pages := 0; ; pages++ {
		list := slices.Clone(all)
		if pages == 2 { // a newer session, and one older than the position, appear
			list = append(list, api.Session{ID: "new", StartedAt: base.Add(time.Hour)}, api.Session{ID: "old", StartedAt: base.Add(-time.Hour)})
		}
		got, next := page(api.VerbDescribeSessions, list, key, p)
		for _, se := range got {
			seen = append(seen, se.ID)
		}
		if next == "" {
			break
		}
		if p, err = checkPage(api.VerbDescribeSessions, 5, next, true); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b api.Session) int { return key(a).compare(key(b)) })
	for _, se := range sorted {
		want = append(want, se.ID)
	}
	got := slices.DeleteFunc(slices.Clone(seen), func(id string) bool { return id == "new" || id == "old" })
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
}

func TestCheckPageRefuses(t *testing.T) {
	for _, tc := range []struct {
		max        int
		token, msg string
	}{
		{201, "", "max_results must be between 1 and 200, not 201"},
		{-1, "", "max_results must be between 1 and 200"},
		{0, "not-a-token!", "next_token"},
		{0, "eyJ2IjoiTGlzdERvY3VtZW50cyIsImEiOnsiaSI6IngifX0", "next_token"}, // another verb's
		{0, "e30", "next_token"},                                             // {}
	} {
		_, err := checkPage(api.VerbDescribeSessions, tc.max, tc.token, true)
		if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("checkPage(%d, %q) = %v, want BadRequest with %q", tc.max, tc.token, err, tc.msg)
		}
	}
}
