package policies

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// customItems is a policy of its own: not the library, with an obligation that breaks
// the decision of some items (Decide denies those with an error).
const customItems = `package tether.authz

decision := {"allow": allow, "reasons": [], "obligations": obligations}

default allow := false

allow if "ops" in input.principal.groups

allow if input.session.owner == input.principal.name

allow if startswith(input.target.id, "pub-")

allow if input.document.name == "Shared"

obligations := {"max_duration": "forever"} if input.session.target == "broken"

else := {}
`

func listItems() []Input {
	var items []Input
	owners := []string{"alice", "bob", ""}
	for i := range 60 {
		owner := owners[i%3]
		target := &Target{ID: fmt.Sprintf("web-%d", i%5), Tags: map[string]string{"Environment": []string{"staging", "prod"}[i%2]}}
		if i%7 == 0 {
			target = &Target{ID: "pub-1", Tags: map[string]string{"access-groups": "dev"}}
		}
		if i%11 == 0 {
			target = nil
		}
		st := "web-1"
		if i%13 == 0 {
			st = "broken"
		}
		items = append(items,
			Input{Session: &Session{ID: fmt.Sprintf("alice-%d", i), Owner: owner, Target: st}, Target: target},
			Input{Target: target},
			Input{Document: &Document{Name: []string{"Shared", "Tether-SessionManagerRunShell", "Team-x"}[i%3], Type: "Standard_Stream"}},
		)
	}
	return items
}

// Items.Allowed answers exactly as Decide, item by item, for the shipped policy and a
// policy of one's own, for every list action and a mix of principals.
func TestItemsAgreeWithDecide(t *testing.T) {
	ctx := context.Background()
	shipped, err := New(ctx, WithData(map[string]any{"tether": map[string]any{
		"document_access_check": true, "document_grants": map[string]any{"dev": []any{"Team-*"}},
		"deny_statements": []any{map[string]any{"sid": "NoProd", "groups": []any{"contractors"}, "tags": map[string]any{"Environment": "prod"}}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	custom, err := Compile(ctx, Bundle{Files: map[string][]byte{"authz.rego": []byte(customItems)}})
	if err != nil {
		t.Fatal(err)
	}
	principals := []api.Principal{
		{Name: "alice", Kind: "user", Groups: []string{"dev"}},
		{Name: "bob", Kind: "user", Groups: []string{"staging-users", "contractors"}},
		{Name: "root", Kind: "user", Groups: []string{"admins"}},
		{Name: "ops1", Kind: "user", Groups: []string{"ops"}, Attributes: map[string]string{"Environment": "prod"}},
		{Name: "nobody", Kind: "user"},
	}
	actions := []string{api.VerbDescribeSessions, api.VerbDescribeInstances, api.VerbListDocuments, api.VerbGetRecording}
	for name, e := range map[string]*Evaluator{"shipped": shipped, "custom": custom} {
		fast := 0
		for _, p := range principals {
			for _, action := range actions {
				base := Input{Principal: p, Action: action, Time: time.Now().UTC(), SourceIP: "192.0.2.7"}
				items := e.ForItems(ctx, base)
				if len(items.pre) > 0 {
					fast++
				}
				shown := 0
				for _, item := range listItems() {
					in := base
					in.Target, in.Session, in.Document = item.Target, item.Session, item.Document
					d, err := e.Decide(ctx, in)
					want := err == nil && d.Allow
					if got := items.Allowed(ctx, item); got != want {
						t.Errorf("%s: %s %s on %+v: Allowed = %v, Decide = %v (%v)", name, p.Name, action, item, got, want, err)
					}
					if want {
						shown++
					}
				}
				t.Logf("%s: %s %s: %d shown", name, p.Name, action, shown)
			}
		}
		if fast == 0 {
			t.Errorf("%s: no list was decided with a residue: the fast path is never taken", name)
		}
	}
}

// BenchmarkListSessions lists 1,000 sessions, ten of them the caller's, item by item
// (Decide, as before) and with ForItems.
func BenchmarkListSessions(b *testing.B) {
	ctx := context.Background()
	e, err := New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var sessions []Input
	for i := range 1000 {
		owner := "bob"
		if i%100 == 0 {
			owner = "alice"
		}
		sessions = append(sessions, Input{
			Session: &Session{ID: fmt.Sprintf("%s-%d", owner, i), Owner: owner, Target: "web-1"},
			Target:  &Target{ID: "web-1", Tags: map[string]string{"Environment": "staging"}},
		})
	}
	for _, p := range []api.Principal{{Name: "alice", Kind: "user", Groups: []string{"dev"}}, {Name: "root", Kind: "user", Groups: []string{"admins"}}} {
		base := Input{Principal: p, Action: api.VerbDescribeSessions, Time: time.Now().UTC()}
		b.Run("per-item/"+p.Name, func(b *testing.B) {
			for b.Loop() {
				for _, s := range sessions {
					in := base
					in.Session, in.Target = s.Session, s.Target
					_, _ = e.Decide(ctx, in)
				}
			}
		})
		b.Run("for-items/"+p.Name, func(b *testing.B) {
			for b.Loop() {
				items := e.ForItems(ctx, base)
				for _, s := range sessions {
					items.Allowed(ctx, s)
				}
			}
		})
	}
}
