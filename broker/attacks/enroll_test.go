package attacks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// An agent enrolling holds a key of its own and an activation's id and code, and may ask
// for one thing: its own enrollment. It can call no verb of the API (no deregistering an
// instance "as the admin"), cannot steer the answer to its enrollment into the admin's
// or an agent's API, and reaches no JetStream subject. A wrong code gets no connection.
func TestEnrollingAgent(t *testing.T) {
	w := newWorld(t, steerQuiet)
	sc := newSteerScene(t, w, "victim-1")
	enrolling, enroll := steerEnrolling(t, w, "late-1")
	act, _, _ := subjects.EnrollParts(enroll)

	t.Run("no verb", func(t *testing.T) {
		sc.freeze(t)
		dereg := steerJSON(t, api.DeregisterInstanceRequest{ID: sc.victim.id})
		for _, s := range []string{
			subjects.API("admin", api.VerbDeregisterInstance),
			subjects.API("admin", api.VerbTerminateSession),
			subjects.API(act, api.VerbDeregisterInstance), // its activation's name, as a user's
			subjects.AgentAPI(sc.victim.id, api.VerbRegister),
			subjects.AgentAPI(sc.victim.id, api.VerbSessionEnded),
			subjects.AgentAPI(act, api.VerbRegister),
			subjects.AgentControl(sc.victim.id),
			subjects.Enroll(act, "UOTHERKEY"), // enrolling another key with its activation
			subjects.Enroll("act-other", enrolling.name),
		} {
			if err := enrolling.Publish(s, dereg); err != nil {
				t.Fatal(err)
			}
			enrolling.v.Has(t, "Publish to \""+s+"\"")
		}
		sc.intact(t)
		steerRegistered(t, w, sc.victim.id)
	})

	t.Run("steered enrollment answer", func(t *testing.T) {
		sc.spy.requests(t, enroll)
		sc.freeze(t)
		targets := []string{
			subjects.API("admin", api.VerbDeregisterInstance),
			subjects.API("admin", api.VerbRemoveUser),
			subjects.AgentAPI(sc.victim.id, api.VerbRegister),
			subjects.AgentAPI(sc.victim.id, api.VerbSessionEnded),
			subjects.AgentControl(sc.victim.id),
			enroll,
		}
		for _, target := range targets {
			if err := enrolling.PublishMsg(&nats.Msg{Subject: enroll, Reply: target, Data: malformedEnroll}); err != nil {
				t.Fatal(err)
			}
		}
		sc.spy.allAnswered(t, enroll, len(targets))
		if err := api.Call(t.Context(), enrolling.Conn, enroll, malformedEnroll, nil); !api.IsCode(err, api.CodeBadRequest) {
			t.Fatalf("a malformed enrollment: %v, want a bad request", err)
		}
		sc.intact(t)
		steerRegistered(t, w, sc.victim.id)
	})

	t.Run("no JetStream", func(t *testing.T) {
		sc.freeze(t)
		for _, s := range []string{"$JS.API.>", "$KV.>", subjects.EventsAll, "tether.>", "_INBOX.>"} {
			if _, err := enrolling.Subscribe(s, func(*nats.Msg) {}); err != nil {
				t.Fatal(err)
			}
			enrolling.v.Has(t, "Subscription to \""+s+"\"")
		}
		for _, s := range []string{
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO." + jsdef.StreamAudit,
			"$JS.API.STREAM.PURGE." + jsdef.StreamAudit,
			"$KV." + jsdef.BucketInstances + "." + sc.victim.id,
			"$KV." + jsdef.BucketActivations + "." + act,
		} {
			if err := enrolling.Publish(s, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			enrolling.v.Has(t, "Publish to \""+s+"\"")
		}
		sc.intact(t)
	})

	t.Run("wrong code", func(t *testing.T) {
		a := w.Activation("late-2", map[string]string{"env": "test"}, 1)
		seed, _ := brokertest.NewKey(t)
		for _, c := range []struct{ id, code string }{
			{a.ID, a.Code + "x"},
			{a.ID, strings.ToLower(a.Code)},
			{a.ID, ""},
			{"act-nosuch", a.Code},
			{"", a.Code},
		} {
			nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed), nats.UserInfo(c.id, c.code),
				nats.MaxReconnects(0), nats.Timeout(5*time.Second))...)
			if err == nil {
				nc.Close()
				t.Errorf("enrollment connection with activation %q code %q was accepted", c.id, c.code)
			}
		}
		w.logged(t, "connection refused", "enrollment with activation", a.ID, "wrong id or code")
		// Wrong codes spend nothing: the right one still connects.
		nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed), nats.UserInfo(a.ID, a.Code))...)
		if err != nil {
			t.Fatalf("the right code after wrong ones: %v", err)
		}
		nc.Close()
	})
}

// steerRegistered fails the test unless the admin still sees instance id registered.
func steerRegistered(t *testing.T, w *world, id string) {
	t.Helper()
	var r api.DescribeInstancesResponse
	if err := w.Call(w.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{id}}, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Instances) != 1 || r.Instances[0].ID != id {
		t.Fatalf("instance %s is no longer registered: %+v", id, r.Instances)
	}
}

// Agents enrolling with one activation share its account (streams/accounts.Enrollment):
// what one of them steers its answers onto must still not reach another's inbox.
func TestEnrollSharedActivation(t *testing.T) {
	w := newWorld(t, steerQuiet)
	a := w.Activation("fleet", map[string]string{"env": "test"}, 2)
	connect := func() (*conn, string) {
		seed, pub := brokertest.NewKey(t)
		v := &brokertest.Violations{}
		nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed), nats.UserInfo(a.ID, a.Code),
			nats.CustomInboxPrefix(subjects.EnrollInbox(pub)), nats.ErrorHandler(v.Handler))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return &conn{Conn: nc, name: pub, v: v}, subjects.Enroll(a.ID, pub)
	}
	first, firstEnroll := connect()
	second, _ := connect()
	theirs, err := second.SubscribeSync(subjects.EnrollInbox(second.name) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	steerFlush(t, second.Conn)
	if err := first.PublishMsg(&nats.Msg{Subject: firstEnroll, Reply: subjects.EnrollInbox(second.name) + ".x", Data: malformedEnroll}); err != nil {
		t.Fatal(err)
	}
	// Answered on the same path after the steered one.
	if err := api.Call(t.Context(), first.Conn, firstEnroll, malformedEnroll, nil); !api.IsCode(err, api.CodeBadRequest) {
		t.Fatalf("a malformed enrollment: %v, want a bad request", err)
	}
	steerFlush(t, first.Conn, second.Conn)
	if n, _, _ := theirs.Pending(); n != 0 {
		m, _ := theirs.NextMsg(time.Second)
		t.Errorf("an agent enrolling with the same activation steered its answer into another's inbox "+
			"(_INBOX.e.<its key>.…): got %s %q", m.Subject, m.Data)
	}
}
