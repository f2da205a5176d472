package brokerd_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// shippedWith is the shipped bundle with more target grants in data.json.
func shippedWith(t *testing.T, grants []map[string]any) []api.PolicyFile {
	t.Helper()
	return shippedEdited(t, func(data map[string]any) {
		data["target_grants"] = append(data["target_grants"].([]any), anySlice(grants)...)
	})
}

func anySlice(grants []map[string]any) []any {
	out := make([]any, len(grants))
	for i, g := range grants {
		out[i] = g
	}
	return out
}

// shippedEdited is the shipped bundle with data.json's "tether" object changed by edit.
func shippedEdited(t *testing.T, edit func(data map[string]any)) []api.PolicyFile {
	t.Helper()
	b := policies.Shipped()
	var data map[string]map[string]any
	if err := json.Unmarshal(b.Files["data.json"], &data); err != nil {
		t.Fatal(err)
	}
	edit(data["tether"])
	raw, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b.Files["data.json"] = raw
	var files []api.PolicyFile
	for _, p := range slices.Sorted(maps.Keys(b.Files)) {
		files = append(files, api.PolicyFile{Path: p, Content: string(b.Files[p])})
	}
	return files
}

func status(t *testing.T, s *brokertest.Server) api.PolicyStatusResponse {
	t.Helper()
	var st api.PolicyStatusResponse
	if err := s.Call(s.Admin, "admin", api.VerbPolicyStatus, nil, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Brokers) != 1 || st.Brokers[0].Server != "test" {
		t.Fatalf("policy status = %+v", st)
	}
	return st
}

func TestPolicyPushedEvaluatedAndEnforced(t *testing.T) {
	// The fake agent does not heartbeat: a long interval keeps it from looking lost.
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.HeartbeatInterval = 10 * time.Second })
	next := eventLog(t, s)
	agent := newFakeAgent(t, s, "web-1") // tagged env=test
	carolSeed := s.AddUser("carol", []string{"testers"}, nil)
	carol := s.ConnectUser("carol", carolSeed)
	startReq := api.StartSessionRequest{Target: "web-1", Interactive: true}
	shipped := status(t, s).Brokers[0].Revision
	if shipped == "" {
		t.Fatal("the broker reports no policy revision")
	}

	// "Why was I denied?": the policy says, without anything being started.
	var ev api.EvaluatePolicyResponse
	if err := s.Call(carol, "carol", api.VerbEvaluatePolicy, api.EvaluatePolicyRequest{Target: "web-1"}, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Allow || len(ev.Reasons) == 0 || ev.Revision != shipped || !strings.Contains(string(ev.Input), `"carol"`) {
		t.Fatalf("eval before push = %+v", ev)
	}
	if err := s.Call(carol, "carol", api.VerbStartSession, startReq, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("carol's start before push: %v", err)
	}
	// Nobody but an admin pushes, or evaluates for someone else.
	grants := []map[string]any{{
		"sid": "Testers", "groups": []string{"testers"}, "actions": []string{"StartSession"},
		"tags":        map[string]string{"env": "test"},
		"obligations": map[string]any{"max_duration": "1s", "idle_timeout": "30s", "run_as": "nobody"},
	}}
	good := shippedWith(t, grants)
	if err := s.Call(carol, "carol", api.VerbPushPolicy, api.PushPolicyRequest{Files: good}, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("carol pushing: %v", err)
	}
	if err := s.Call(carol, "carol", api.VerbEvaluatePolicy, api.EvaluatePolicyRequest{User: "admin", Target: "web-1"}, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("carol evaluating for admin: %v", err)
	}

	// A bundle that does not compile, and one whose own tests fail, are refused with the
	// file and line; the policy in force stays.
	broken := append(slices.Clone(good), api.PolicyFile{Path: "extra/broken.rego", Content: "package tether.authz\n\nallow if {\n  this is not rego\n"})
	err := s.Call(s.Admin, "admin", api.VerbPushPolicy, api.PushPolicyRequest{Files: broken}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "extra/broken.rego:4") {
		t.Fatalf("broken bundle: %v", err)
	}
	failing := append(slices.Clone(good), api.PolicyFile{Path: "extra_test.rego", Content: "package tether.authz_test\n\ntest_fails if {\n  1 == 2\n}\n"})
	err = s.Call(s.Admin, "admin", api.VerbPushPolicy, api.PushPolicyRequest{Files: failing}, nil)
	if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), "test_fails") {
		t.Fatalf("bundle with a failing test: %v", err)
	}
	if st := status(t, s); st.Pushed != nil || st.Brokers[0].Revision != shipped {
		t.Fatalf("status after refused pushes = %+v", st)
	}

	var pushed api.PushPolicyResponse
	if err := s.Call(s.Admin, "admin", api.VerbPushPolicy, api.PushPolicyRequest{Files: good}, &pushed); err != nil {
		t.Fatal(err)
	}
	rev := pushed.Bundle.Revision
	if rev == "" || rev == shipped || pushed.Bundle.PushedBy != "admin" {
		t.Fatalf("pushed = %+v", pushed)
	}
	if st := status(t, s); st.Pushed == nil || st.Pushed.Revision != rev || st.Brokers[0].Revision != rev || st.Brokers[0].Error != "" {
		t.Fatalf("status after push = %+v", st)
	}
	if err := s.Call(carol, "carol", api.VerbEvaluatePolicy, api.EvaluatePolicyRequest{Target: "web-1"}, &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Allow || ev.Revision != rev || ev.Obligations["max_duration"] != "1s" {
		t.Fatalf("eval after push = %+v", ev)
	}

	// The obligations tighten the session: preferences say 20 minutes idle and no
	// maximum; the policy says 30 s, 1 s and run as nobody.
	var start api.StartSessionResponse
	if err := s.Call(carol, "carol", api.VerbStartSession, startReq, &start); err != nil {
		t.Fatal(err)
	}
	agent.mu.Lock()
	st := agent.starts[len(agent.starts)-1]
	agent.mu.Unlock()
	if st.MaxDuration.Std() != time.Second || st.IdleTimeout.Std() != 30*time.Second || st.RunAs != "nobody" {
		t.Fatalf("agent start = %+v", st)
	}
	// This agent ignores its limits: the broker ends the session itself.
	if d := next(events.Terminated, start.Session.ID); d.Session.Reason != api.ReasonMaxDuration {
		t.Fatalf("terminated = %+v", d.Session)
	}
	agent.mu.Lock()
	terms := slices.Clone(agent.terms)
	agent.mu.Unlock()
	if len(terms) != 1 || terms[0].Reason != api.ReasonMaxDuration {
		t.Fatalf("agent was told %+v", terms)
	}

	// Every decision is in the audit stream with its bundle revision and latency.
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(t.Context(), jsdef.StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.Audit(api.VerbStartSession)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var recs []api.AuditRecord
	brokertest.WaitFor(t, 10*time.Second, "StartSession audit records", func() bool {
		batch, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var r api.AuditRecord
			if err := json.Unmarshal(m.Data(), &r); err != nil {
				t.Fatalf("audit record: %v", err)
			}
			recs = append(recs, r)
		}
		return len(recs) >= 2
	})
	if r := recs[0]; r.Allow || r.Principal != "carol" || r.Revision != shipped || len(r.Reasons) == 0 || !strings.Contains(string(r.Input), "web-1") {
		t.Fatalf("first audit record = %+v", r)
	}
	if r := recs[1]; !r.Allow || r.Revision != rev || r.Obligations["run_as"] != "nobody" || r.LatencyUS <= 0 && r.LatencyUS != 0 {
		t.Fatalf("second audit record = %+v", r)
	}

	// The pushed bundle survives a restart.
	s2 := s.Restart()
	if st := status(t, s2); st.Brokers[0].Revision != rev {
		t.Fatalf("after restart: %+v", st)
	}
}
