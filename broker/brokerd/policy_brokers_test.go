package brokerd

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/control"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// A bundle pushed to one broker goes in force on every broker that shares the policy
// bucket, and each reports the revision it runs. The second broker here is a second
// control plane on the same NATS server, as a broker of a cluster would be.
func TestPushedPolicyReachesEveryBroker(t *testing.T) {
	ctx := context.Background()
	n, err := Start(ctx, Options{StateDir: t.TempDir(), ServerName: "one", HeartbeatInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	js, err := jetstream.New(n.Conn())
	if err != nil {
		t.Fatal(err)
	}
	b, err := jsdef.Ensure(ctx, js, jsdef.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := policies.Compile(ctx, policies.Shipped())
	if err != nil {
		t.Fatal(err)
	}
	live := policies.NewLive(shipped)
	two, err := control.New(control.Config{
		NC: n.Conn(), JS: js, Buckets: b, Directory: n.Dir, Authorizer: live,
		Emitter: &events.Emitter{JS: js, Source: "test"}, Policy: &policyLoader{live: live}, ServerName: "two",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := two.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer two.Close()

	// A bundle that differs from the shipped one in its data only.
	bundle := policies.Shipped()
	bundle.Files["extra/data.json"] = []byte(`{"note": "pushed"}`)
	var files []api.PolicyFile
	for _, p := range slices.Sorted(maps.Keys(bundle.Files)) {
		files = append(files, api.PolicyFile{Path: p, Content: string(bundle.Files[p])})
	}
	// Push as the admin root, on root's API subject (the in-process connection may
	// publish anywhere; the control plane takes the caller from the subject).
	n.Dir.PutUser(api.User{Name: "root", NKey: "UROOT", Groups: []string{api.AdminGroup}})
	var pushed api.PushPolicyResponse
	if err := api.Call(ctx, n.Conn(), subjects.API("root", api.VerbPushPolicy), api.PushPolicyRequest{Files: files}, &pushed); err != nil {
		t.Fatal(err)
	}
	rev := pushed.Bundle.Revision
	polltest.Until(t, 10*time.Second, "both brokers on the pushed revision", func() bool {
		var st api.PolicyStatusResponse
		if api.Call(ctx, n.Conn(), subjects.API("root", api.VerbPolicyStatus), nil, &st) != nil || len(st.Brokers) != 2 {
			return false
		}
		return st.Brokers[0].Server == "one" && st.Brokers[0].Revision == rev &&
			st.Brokers[1].Server == "two" && st.Brokers[1].Revision == rev
	})
	if live.Revision() != rev {
		t.Fatalf("broker two runs %s, want %s", live.Revision(), rev)
	}
}
