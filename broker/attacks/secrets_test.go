package attacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// The secrets the broker keeps about agents (each activation code's hash, each agent's
// key) reach no user who is not an admin, by any reply or event: only an admin's
// DescribeInstanceInformation shows an agent's key, and nothing shows a code's hash, nor
// the code after its creation.
func TestSecretsNeverReachAUser(t *testing.T) {
	w := newWorld(t)
	a := w.agent(t, "web-1")
	b := w.agent(t, "web-2")
	a.keepAlive(100 * time.Millisecond)
	b.keepAlive(100 * time.Millisecond)
	floodLeave(t, w, a, b)
	var spare api.Activation
	created := secretsCall(t, w.Admin, "admin", api.VerbCreateActivation,
		api.CreateActivationRequest{DefaultInstanceName: "web-3", Tags: map[string]string{"env": "test"}, Limit: 2, Expires: "1h"}, &spare)
	enrolled := secretsEnroll(t, w, spare)

	// Everything secret the broker stores, read from its buckets.
	sec := secretsStored(t, w)
	if len(sec.hashes) != 3 || len(sec.nkeys) != 3 {
		t.Fatalf("stored: %d code hashes and %d agent keys; want 3 and 3", len(sec.hashes), len(sec.nkeys))
	}
	if sec.hashes[spare.ID] != principals.HashCode(spare.Code) {
		t.Fatalf("the stored hash of %s is not the hash of its code", spare.ID)
	}
	needles := map[string]string{"the code of " + spare.ID: spare.Code}
	for id, h := range sec.hashes {
		needles["the code hash of "+id] = h
	}
	for id, k := range sec.nkeys {
		needles["the key of "+id] = k
	}
	if strings.Contains(created, sec.hashes[spare.ID]) {
		t.Errorf("CreateActivation's reply holds the code's hash: %s", created)
	}
	if strings.Contains(enrolled, sec.hashes[spare.ID]) || strings.Contains(enrolled, spare.Code) {
		t.Errorf("Enroll's reply holds the code or its hash: %s", enrolled)
	}

	// Lifecycle events, as admins receive them, and a user who is no admin trying to.
	ops := w.user(t, "ops", []string{"admins"}, nil)
	events := secretsWatch(t, ops.Conn)
	adminEvents := secretsWatch(t, w.Admin)
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	if _, err := alice.SubscribeSync(subjects.EventsAll); err != nil {
		t.Fatal(err)
	}
	alice.v.Has(t, subjects.EventsAll)

	// Sessions start and end: alice's on each agent, one ended by its agent, one she
	// terminates, and one the policy refuses bob.
	s1 := w.startSession(t, alice.Conn, "alice", a.id)
	if _, err := a.publishFrame(t.Context(), s1.Subjects.Out, 1, []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	secretsEnded(t, a, s1.Session.ID)
	s2 := w.startSession(t, alice.Conn, "alice", b.id)
	if err := w.Call(alice.Conn, "alice", api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: s2.Session.ID}, nil); err != nil {
		t.Fatal(err)
	}
	secretsEnded(t, b, s2.Session.ID)
	bob := w.user(t, "bob", nil, nil)
	if err := w.Call(bob.Conn, "bob", api.VerbStartSession, api.StartSessionRequest{Target: a.id, Command: []string{"true"}}, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("bob's session on an untagged target: %v; want AccessDenied", err)
	}
	for _, ev := range []*secretsEvents{events, adminEvents} {
		ev.wait(t, subjects.SessionEvent("denied"))
	}
	framesShipped(t, w, 2)

	// Every reply a user who is no admin can get: lists, descriptions, and refusals.
	reads := []struct {
		verb      string
		req       any
		aliceOnly bool // a change an admin would make
	}{
		{api.VerbWhoAmI, nil, false},
		{api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, false},
		{api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "History"}, false},
		{api.VerbGetSession, api.GetSessionRequest{SessionID: s1.Session.ID}, false},
		{api.VerbGetSession, api.GetSessionRequest{SessionID: s2.Session.ID}, false},
		{api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: s1.Session.ID}, false},
		{api.VerbDescribeInstances, api.DescribeInstancesRequest{}, false},
		{api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{a.id, b.id, spare.DefaultInstanceName}}, false},
		{api.VerbListDocuments, api.ListDocumentsRequest{}, false},
		{api.VerbGetDocument, api.GetDocumentRequest{Name: api.DocPreferences}, false},
		{api.VerbGetPreferences, nil, false},
		{api.VerbListRecordings, api.ListRecordingsRequest{}, false},
		{api.VerbGetRecording, api.GetRecordingRequest{SessionID: s1.Session.ID}, false},
		{api.VerbEvaluatePolicy, api.EvaluatePolicyRequest{Target: a.id}, false},
		{api.VerbShipStatus, nil, false},
		{api.VerbPolicyStatus, nil, false},
		{api.VerbListActivations, nil, false},
		{api.VerbListUsers, nil, false},
		{api.VerbDeleteActivation, api.DeleteActivationRequest{ID: spare.ID}, true},
		{api.VerbDeregisterInstance, api.DeregisterInstanceRequest{ID: a.id}, true},
	}
	for _, r := range reads {
		reply := secretsCall(t, alice.Conn, "alice", r.verb, r.req, nil)
		secretsAbsent(t, "alice's "+r.verb, reply, needles)
		if r.aliceOnly {
			continue
		}
		reply = secretsCall(t, w.Admin, "admin", r.verb, r.req, nil)
		if r.verb == api.VerbDescribeInstances {
			continue // below
		}
		secretsAbsent(t, "an admin's "+r.verb, reply, needles)
	}

	// What alice sees of the instances: all three, without key or activation.
	var seen api.DescribeInstancesResponse
	if err := w.Call(alice.Conn, "alice", api.VerbDescribeInstances, api.DescribeInstancesRequest{}, &seen); err != nil {
		t.Fatal(err)
	}
	if len(seen.Instances) != 3 {
		t.Errorf("alice sees %d instances; want the 3 tagged for her", len(seen.Instances))
	}
	for _, in := range seen.Instances {
		if in.NKey != "" || in.ActivationID != "" {
			t.Errorf("alice sees instance %s with key %q and activation %q", in.ID, in.NKey, in.ActivationID)
		}
	}
	// An admin sees every agent's key, and still no code hash.
	reply := secretsCall(t, w.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{}, &seen)
	for _, in := range seen.Instances {
		if in.NKey != sec.nkeys[in.ID] || in.ActivationID == "" {
			t.Errorf("an admin sees instance %s with key %q and activation %q; want key %q", in.ID, in.NKey, in.ActivationID, sec.nkeys[in.ID])
		}
	}
	secretsAbsent(t, "an admin's "+api.VerbDescribeInstances, reply, secretsOnly(needles, "the code"))
	// ListActivations, an admin's: every activation, no code, no hash.
	var acts api.ListActivationsResponse
	reply = secretsCall(t, w.Admin, "admin", api.VerbListActivations, nil, &acts)
	if len(acts.Activations) != 3 {
		t.Errorf("an admin lists %d activations; want 3", len(acts.Activations))
	}
	secretsAbsent(t, "an admin's "+api.VerbListActivations, reply, needles)

	// The events, an admin's and a member of the admins group's.
	for who, ev := range map[string]*secretsEvents{"ops": events, "admin": adminEvents} {
		ev.mu.Lock()
		for _, m := range ev.msgs {
			secretsAbsent(t, who+"'s event "+m.Subject, string(m.Data), needles)
		}
		n := len(ev.msgs)
		ev.mu.Unlock()
		if n < 5 {
			t.Errorf("%s received %d events; want at least 5 (2 started, 2 ended, 1 denied)", who, n)
		}
	}
}

// secretsAbsent fails t if reply holds any of needles.
func secretsAbsent(t *testing.T, what, reply string, needles map[string]string) {
	t.Helper()
	for name, n := range needles {
		if strings.Contains(reply, n) {
			t.Errorf("%s holds %s: %.300s", what, name, reply)
		}
	}
}

// secretsOnly are the needles whose name starts with prefix.
func secretsOnly(needles map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for name, n := range needles {
		if strings.HasPrefix(name, prefix) {
			out[name] = n
		}
	}
	return out
}

// secretsCall makes a request and returns the whole reply, headers and body, whatever
// it is (an error answer too), decoding it into resp when it is not an error.
func secretsCall(t *testing.T, nc *nats.Conn, user, verb string, req, resp any) string {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subjects.API(user, verb), body)
	if err != nil {
		t.Fatalf("%s as %s: %v", verb, user, err)
	}
	if err := api.DecodeReply(m, resp); err != nil && resp != nil {
		t.Fatalf("%s as %s: %v", verb, user, err)
	}
	return fmt.Sprint(m.Header) + string(m.Data)
}

// secretsEnroll enrolls an agent with activation act, as tether-agent does, and returns
// Enroll's whole reply; the instance id is the activation's default instance name.
func secretsEnroll(t *testing.T, w *world, act api.Activation) string {
	t.Helper()
	seed, pub := brokertest.NewKey(t)
	nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed),
		nats.UserInfo(act.ID, act.Code), nats.CustomInboxPrefix(subjects.EnrollInbox(pub)))...)
	if err != nil {
		t.Fatalf("enrollment connection: %v", err)
	}
	defer nc.Close()
	m, err := nc.RequestWithContext(t.Context(), subjects.Enroll(act.ID, pub), []byte(`{"hostname":"h","os":"linux"}`))
	if err != nil {
		t.Fatal(err)
	}
	var resp api.EnrollResponse
	if err := api.DecodeReply(m, &resp); err != nil || resp.InstanceID != act.DefaultInstanceName {
		t.Fatalf("enroll: %+v %v", resp, err)
	}
	return resp.InstanceID + " " + fmt.Sprint(m.Header) + string(m.Data)
}

// secretsEnded reports, as the agent, that a session ended.
func secretsEnded(t *testing.T, a *fakeAgent, sid string) {
	t.Helper()
	if err := api.Call(t.Context(), a.Conn, subjects.AgentAPI(a.id, api.VerbSessionEnded),
		api.SessionEndedRequest{SessionID: sid, Reason: api.ReasonExit}, nil); err != nil {
		t.Fatalf("end session %s as its agent: %v", sid, err)
	}
}

// secretsKept is what the buckets hold that no reply may carry: the code hash of each
// activation and the key of each instance, by id.
type secretsKept struct {
	hashes, nkeys map[string]string
}

func secretsStored(t *testing.T, w *world) secretsKept {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	read := func(bucket, idField, field string) map[string]string {
		kv, err := js.KeyValue(t.Context(), bucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.ListKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k := range keys.Keys() {
			e, err := kv.Get(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				t.Fatal(err)
			}
			id, _ := rec[idField].(string)
			v, _ := rec[field].(string)
			if id == "" || v == "" {
				t.Fatalf("%s/%s has no %s or %s: %s", bucket, k, idField, field, e.Value())
			}
			out[id] = v
		}
		return out
	}
	return secretsKept{
		hashes: read(jsdef.BucketActivations, "activation_id", "code_hash"),
		nkeys:  read(jsdef.BucketInstances, "instance_id", "nkey"),
	}
}

// secretsEvents are the lifecycle events one connection received.
type secretsEvents struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

// secretsWatch subscribes nc to every lifecycle event.
func secretsWatch(t *testing.T, nc *nats.Conn) *secretsEvents {
	t.Helper()
	ev := &secretsEvents{}
	if _, err := nc.Subscribe(subjects.EventsAll, func(m *nats.Msg) {
		ev.mu.Lock()
		ev.msgs = append(ev.msgs, m)
		ev.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ev
}

// wait waits for an event on subject.
func (ev *secretsEvents) wait(t *testing.T, subject string) {
	t.Helper()
	brokertest.WaitFor(t, 10*time.Second, "an event on "+subject, func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		for _, m := range ev.msgs {
			if m.Subject == subject {
				return true
			}
		}
		return false
	})
}

// NATS-level admin rights (reading events live) follow the policy's admin groups: with
// admin_groups ["sre"], a member of sre reads them, a member of admins may not.
func TestSecretsEventsFollowThePolicysAdminGroups(t *testing.T) {
	rootSeed, rootKey := brokertest.NewKey(t)
	w := newWorld(t, func(o *brokerd.Options) {
		o.PolicyData = map[string]any{"tether": map[string]any{"admin_groups": []any{"sre"}}}
		o.Admins = append(o.Admins, api.User{Name: "root", NKey: rootKey, Groups: []string{"sre"}})
	})
	root := w.ConnectUser("root", rootSeed)
	add := func(name string, groups []string) *conn {
		t.Helper()
		seed, key := brokertest.NewKey(t)
		if err := w.Call(root, "root", api.VerbAddUser, api.AddUserRequest{User: api.User{Name: name, NKey: key, Groups: groups}}, nil); err != nil {
			t.Fatalf("add %s as a member of sre: %v", name, err)
		}
		return w.userWithSeed(t, name, seed)
	}
	sre := add("sre1", []string{"sre"})
	ops := add("ops", []string{"admins"})

	sreEvents := secretsWatch(t, sre.Conn)
	// A member of admins, and the broker's own admin user, in group admins only.
	adminV := &brokertest.Violations{}
	admin := &conn{Conn: w.ConnectUser("admin", w.AdminSeed, nats.ErrorHandler(adminV.Handler)), name: "admin", v: adminV}
	var refused []*nats.Subscription
	for _, c := range []*conn{ops, admin} {
		sub, err := c.SubscribeSync(subjects.EventsAll)
		if err != nil {
			t.Fatal(err)
		}
		c.v.Has(t, subjects.EventsAll)
		refused = append(refused, sub)
	}

	// An event, as the control plane publishes one.
	probe := subjects.SessionEvent("probe")
	if err := w.Conn().Publish(probe, []byte(`{"probe":true}`)); err != nil {
		t.Fatal(err)
	}
	sreEvents.wait(t, probe)
	if errs := sre.v.Errs(); len(errs) > 0 {
		t.Errorf("the member of sre got errors: %v", errs)
	}
	for i, sub := range refused {
		if n, _, _ := sub.Pending(); n != 0 {
			t.Errorf("%s, in admins but not in an admin group of the policy, received %d events", []string{"ops", "admin"}[i], n)
		}
	}
}

// An admin demoted by a policy push (its group no longer among the admin groups) stops
// reading the lifecycle events: on the connection it holds too, not only on its next one.
func TestSecretsDemotedAdminStopsReadingEvents(t *testing.T) {
	w := newWorld(t)
	seed := w.AddUser("ops", []string{"admins"}, nil)
	ops := w.userWithSeed(t, "ops", seed)
	opsEvents := make(chan *nats.Msg, 1024)
	if _, err := ops.ChanSubscribe(subjects.EventsAll, opsEvents); err != nil {
		t.Fatal(err)
	}
	if err := ops.Flush(); err != nil {
		t.Fatal(err)
	}
	control, err := w.Conn().SubscribeSync(subjects.SessionEvents)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	probe := func() (string, bool) { // publishes a probe; did ops receive it?
		t.Helper()
		n++
		subject := subjects.SessionEvent(fmt.Sprintf("probe%d", n))
		if err := w.Conn().Publish(subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if _, err := control.NextMsg(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		_ = ops.FlushTimeout(time.Second) // what the server sent ops before, ops has now
		got := false
		for {
			select {
			case m := <-opsEvents:
				got = got || m.Subject == subject
				continue
			default:
			}
			return subject, got
		}
	}
	if subject, got := probe(); !got {
		t.Fatalf("ops, in admins, did not receive %s", subject)
	}

	// The admin pushes a policy whose only admin group is sre.
	policy := `package tether.authz

admin_groups := ["sre"]

default allow := false

allow if "sre" in input.principal.groups

decision := {"allow": allow, "reasons": ["sre only"]}
`
	if err := w.Call(w.Admin, "admin", api.VerbPushPolicy, api.PushPolicyRequest{Files: []api.PolicyFile{{Path: "sre.rego", Content: policy}}}, nil); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 5*time.Second, "the pushed policy's admin groups in force", func() bool { return !w.Dir.IsAdmin([]string{"admins"}) })
	brokertest.WaitFor(t, 5*time.Second, "the demoted admin's connection to stop receiving events", func() bool {
		_, got := probe()
		return !got
	})
}
