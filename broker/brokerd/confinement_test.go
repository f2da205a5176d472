package brokerd_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func connectWith(t *testing.T, s *brokertest.Server, name string, seed []byte, v *brokertest.Violations, inbox string) *nats.Conn {
	t.Helper()
	return s.ConnectUser(name, seed, nats.ErrorHandler(v.Handler), nats.CustomInboxPrefix(inbox))
}

// enrollRaw enrolls an agent by hand, as the agent would, and returns its seed and id.
func enrollRaw(t *testing.T, s *brokertest.Server, name string) ([]byte, string) {
	t.Helper()
	act := s.Activation(name, map[string]string{"env": "test"}, 1)
	seed, pub := brokertest.NewKey(t)
	nc, err := nats.Connect(s.URL(), append(brokertest.KeyOptions(t, seed),
		nats.UserInfo(act.ID, act.Code), nats.CustomInboxPrefix(subjects.EnrollInbox(pub)))...)
	if err != nil {
		t.Fatalf("enrollment connection: %v", err)
	}
	defer nc.Close()
	var resp api.EnrollResponse
	if err := s.CallTimeout(time.Second, nc, "x", "WhoAmI", api.EnrollRequest{Hostname: "h", OS: "linux", Arch: "amd64"}, nil); err == nil {
		t.Fatal("enrollment connection could publish on an API subject")
	}
	if err := api.Call(t.Context(), nc, subjects.Enroll(act.ID, pub), api.EnrollRequest{Hostname: "h", OS: "linux"}, &resp); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if resp.InstanceID != name {
		t.Fatalf("instance id = %q, want %q", resp.InstanceID, name)
	}
	return seed, resp.InstanceID
}

func TestUnauthenticatedRefused(t *testing.T) {
	s := brokertest.NewServer(t)
	if _, err := nats.Connect(s.URL()); err == nil {
		t.Fatal("connection without credentials was accepted")
	}
	if _, err := nats.Connect(s.URL(), nats.UserInfo("admin", "admin")); err == nil {
		t.Fatal("user/password connection was accepted")
	}
	// A key nobody registered.
	seed, _ := brokertest.NewKey(t)
	if _, err := nats.Connect(s.URL(), brokertest.KeyOptions(t, seed)...); err == nil {
		t.Fatal("unknown nkey was accepted")
	}
	// Alice's public key, signed with someone else's key: a bad signature.
	s.AddUser("alice", nil, nil)
	alice, _ := s.Dir.User("alice")
	other, _ := nkeys.CreateUser()
	if _, err := nats.Connect(s.URL(), nats.Nkey(alice.NKey, other.Sign)); err == nil {
		t.Fatal("connection with a bad signature was accepted")
	}
	// A wrong activation code.
	act := s.Activation("", nil, 1)
	seed2, _ := brokertest.NewKey(t)
	if _, err := nats.Connect(s.URL(), append(brokertest.KeyOptions(t, seed2), nats.UserInfo(act.ID, "WRONGCODE"))...); err == nil {
		t.Fatal("enrollment with a wrong code was accepted")
	}
}

func TestUserConfinement(t *testing.T) {
	s := brokertest.NewServer(t)
	aliceSeed := s.AddUser("alice", nil, nil)
	bobSeed := s.AddUser("bob", nil, nil)
	var va brokertest.Violations
	alice := connectWith(t, s, "alice", aliceSeed, &va, subjects.UserInbox("alice"))
	bob := s.ConnectUser("bob", bobSeed)

	// Bob listens on his own session and inbox subjects; nothing alice does may reach him.
	bobSession := subjects.ForSession("web-1", "bob", "bob-0123")
	aliceRin := subjects.ForSession("web-1", "alice", "alice-0123").Rin // what alice typed
	got := make(chan *nats.Msg, 10)
	for _, subj := range []string{bobSession.Out, bobSession.Ctl, subjects.UserInbox("bob") + ".x"} {
		if _, err := bob.ChanSubscribe(subj, got); err != nil {
			t.Fatal(err)
		}
	}
	bob.Flush()

	for _, subj := range []string{bobSession.Out, bobSession.Ctl, bobSession.In, subjects.UserInbox("bob") + ".>", "tether.s.>", "tether.agent.web-1.ctl", "tether.events.>", "$JS.API.>",
		bobSession.Rin, // reading what bob typed
		aliceRin,       // even her own recorded input
		"tether.audit.>", "$KV.tether_policy.>", "$KV.tether_documents.>"} {
		if _, err := alice.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		va.Has(t, "Subscription to \""+subj+"\"")
	}
	for _, subj := range []string{
		bobSession.In,                          // typing into bob's session
		bobSession.Out,                         // forging bob's output
		bobSession.Rin,                         // forging bob's recorded input
		aliceRin,                               // forging her own
		subjects.UserInbox("bob") + ".x",       // answering in bob's inbox
		subjects.API("bob", "WhoAmI"),          // impersonating bob
		subjects.AgentAPI("web-1", "Register"), // impersonating an agent
		subjects.AgentControl("web-1"),         // commanding an agent
		"$JS.API.STREAM.INFO.TETHER_TRANSCRIPTS",
		"$JS.API.CONSUMER.CREATE.TETHER_TRANSCRIPTS",
		"$KV.tether_users.alice",
		"tether.events.session.started",
		subjects.Audit("StartSession"),      // forging an audit record
		"$KV.tether_policy.bundle",          // planting a policy bundle
		"$KV.tether_documents.Tether-Mine",  // planting a document
		"$JS.API.STREAM.PURGE.TETHER_AUDIT", // erasing the audit trail
	} {
		if err := alice.Publish(subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
		va.Has(t, "Publish to \""+subj+"\"")
	}
	alice.Flush()
	// The JetStream API answers a user nothing at all.
	if _, err := alice.Request("$JS.API.INFO", nil, 500*time.Millisecond); err == nil {
		t.Fatal("user reached the JetStream API")
	}
	select {
	case m := <-got:
		t.Fatalf("bob received %q on %s from alice", m.Data, m.Subject)
	default:
	}
	// Alice's own API works, and says she is alice whatever the body claims.
	var who api.WhoAmIResponse
	if err := s.Call(alice, "alice", api.VerbWhoAmI, map[string]string{}, &who); err != nil {
		t.Fatal(err)
	}
	if who.Principal.Name != "alice" {
		t.Fatalf("whoami = %q", who.Principal.Name)
	}
	// A user who connects with someone else's inbox prefix cannot receive replies.
	var vb brokertest.Violations
	conn := connectWith(t, s, "alice", aliceSeed, &vb, subjects.UserInbox("bob"))
	if err := s.CallTimeout(time.Second, conn, "alice", api.VerbWhoAmI, nil, nil); err == nil {
		t.Fatal("request with a foreign inbox got a reply")
	}
}

func TestAgentConfinement(t *testing.T) {
	s := brokertest.NewServer(t)
	xSeed, x := enrollRaw(t, s, "node-x")
	_, y := enrollRaw(t, s, "node-y")
	var vx brokertest.Violations
	agentX := connectWith(t, s, "agent", xSeed, &vx, subjects.AgentInbox(x))
	ySession := subjects.ForSession(y, "alice", "alice-01")
	for _, subj := range []string{subjects.AgentControl(y), ySession.In, ySession.Out, subjects.AgentInbox(y) + ".>", "tether.api.>", "$JS.API.>"} {
		if _, err := agentX.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		vx.Has(t, "Subscription to \""+subj+"\"")
	}
	for _, subj := range []string{ySession.Out, ySession.Ctl, ySession.Rin, subjects.AgentAPI(y, "SessionEnded"), subjects.API("alice", "WhoAmI"), "$JS.API.STREAM.INFO.TETHER_TRANSCRIPTS"} {
		if err := agentX.Publish(subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
		vx.Has(t, "Publish to \""+subj+"\"")
	}
	// Its own control subject and session subjects are allowed.
	xSession := subjects.ForSession(x, "alice", "alice-02")
	if _, err := agentX.Subscribe(subjects.AgentControl(x), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := agentX.Subscribe(xSession.In, func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := agentX.Publish(xSession.Rin, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := agentX.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, e := range vx.Errs() {
		if strings.Contains(e, x+".") && !strings.Contains(e, y) {
			t.Errorf("agent denied its own subject: %s", e)
		}
	}
	// The activation was single-use: a second enrollment with it is refused at connect.
	acts := []api.Activation{}
	var list api.ListActivationsResponse
	if err := s.Call(s.Admin, "admin", api.VerbListActivations, nil, &list); err != nil {
		t.Fatal(err)
	}
	acts = list.Activations
	if len(acts) != 2 || acts[0].Used != 1 {
		t.Fatalf("activations = %+v", acts)
	}
}

func TestNonAdminCannotAdminister(t *testing.T) {
	s := brokertest.NewServer(t)
	seed := s.AddUser("alice", []string{"oncall"}, nil)
	alice := s.ConnectUser("alice", seed)
	_, pub := brokertest.NewKey(t)
	err := s.Call(alice, "alice", api.VerbAddUser, api.AddUserRequest{User: api.User{Name: "mallory", NKey: pub, Groups: []string{"admins"}}}, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeAccessDenied || len(ae.Reasons) == 0 {
		t.Fatalf("AddUser by non-admin: %v", err)
	}
	if err := s.Call(alice, "alice", api.VerbCreateActivation, api.CreateActivationRequest{Limit: 1}, nil); !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("CreateActivation by non-admin: %v", err)
	}
}

func TestMalformedRequests(t *testing.T) {
	s := brokertest.NewServer(t)
	for _, tc := range []struct {
		verb string
		body any
		want string
	}{
		{api.VerbStartSession, map[string]any{"target": "x", "bogus": 1}, "unknown field \"bogus\""},
		{api.VerbStartSession, map[string]any{"target": "a.b", "interactive": true}, "target"},
		{api.VerbStartSession, map[string]any{"target": "ok", "interactive": false}, "needs a command"},
		{api.VerbDescribeSessions, map[string]any{"state": "Sleeping"}, "Active or History"},
		{api.VerbCreateActivation, map[string]any{"registration_limit": 5000}, "registration_limit"},
		{api.VerbAddUser, map[string]any{"user": map[string]any{"name": "bob", "nkey": "nope"}}, "not an NKEY user public key"},
	} {
		err := s.Call(s.Admin, "admin", tc.verb, tc.body, nil)
		if !api.IsCode(err, api.CodeBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: err = %v, want BadRequest mentioning %q", tc.verb, tc.body, err, tc.want)
		}
	}
	// Not JSON at all, and oversized.
	for _, body := range [][]byte{[]byte("{not json"), make([]byte, api.MaxRequest+1)} {
		msg, err := s.Admin.Request(subjects.API("admin", api.VerbWhoAmI), body, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := api.DecodeReply(msg, nil); !api.IsCode(err, api.CodeBadRequest) && len(body) > 100 {
			t.Errorf("oversized request: %v", err)
		}
	}
}

// TestRemovedPrincipalsAreDisconnected: removing a user or deregistering an instance cuts
// the connections they already have, not just their next one.
func TestRemovedPrincipalsAreDisconnected(t *testing.T) {
	// The fake agent does not heartbeat: a long interval keeps it from looking lost.
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.HeartbeatInterval = 10 * time.Second })
	newFakeAgent(t, s, "web-9") // tagged env=test
	seed := s.AddUser("alice", nil, map[string]string{"env": "test"})
	alice := s.ConnectUser("alice", seed, nats.MaxReconnects(2), nats.ReconnectWait(50*time.Millisecond))
	var start api.StartSessionResponse
	if err := s.Call(alice, "alice", api.VerbStartSession, api.StartSessionRequest{Target: "web-9", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	bob := s.ConnectUser("bob", s.AddUser("bob", nil, nil))
	if err := s.Call(s.Admin, "admin", api.VerbRemoveUser, api.RemoveUserRequest{Name: "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, "alice's connection closed", func() bool { return !alice.IsConnected() })
	if !bob.IsConnected() {
		t.Fatal("bob was disconnected too")
	}
	if err := s.CallTimeout(time.Second, alice, "alice", api.VerbWhoAmI, nil, nil); err == nil {
		t.Fatal("removed user still answered")
	}
	var got api.GetSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: start.Session.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Session.State != api.StateTerminated || got.Session.Detail != "user removed by admin" {
		t.Fatalf("removed user's session: %+v", got.Session)
	}

	agentSeed, id := enrollRaw(t, s, "gone-1")
	agent, err := nats.Connect(s.URL(), append(brokertest.KeyOptions(t, agentSeed),
		nats.CustomInboxPrefix(subjects.AgentInbox(id)), nats.MaxReconnects(2), nats.ReconnectWait(50*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if err := s.Call(s.Admin, "admin", api.VerbDeregisterInstance, api.DeregisterInstanceRequest{ID: id}, nil); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, "the agent's connection closed", func() bool { return !agent.IsConnected() })
}

// A shipper's key reaches what a shipper needs and nothing else: no API, no session
// subject, no other bucket, no stream deletion or purge, and no consumer of its own. It
// binds, fetches from and acknowledges the durables the broker made for shippers, but can
// neither make a consumer (which could deliver recordings anywhere) nor change or delete
// the shared ones; it reads the recording streams by direct gets and writes the
// recordings bucket.
func TestShipperConfinement(t *testing.T) {
	seed, pub := brokertest.NewKey(t)
	s := brokertest.NewServer(t, func(o *brokerd.Options) {
		o.Shippers = map[string]string{"ship1": pub}
		o.Recordings.NoShip = true // the test takes the shared consumer's deliveries itself
	})
	var v brokertest.Violations
	nc, err := nats.Connect(s.URL(), append(brokertest.KeyOptions(t, seed),
		nats.ErrorHandler(v.Handler), nats.CustomInboxPrefix(subjects.ShipperInbox("ship1")))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, subj := range []string{"tether.s.>", "tether.api.>", subjects.UserInbox("admin") + ".>", "tether.audit.>", "$KV.>"} {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		v.Has(t, "Subscription to \""+subj+"\"")
	}
	for _, subj := range []string{
		subjects.API("admin", "WhoAmI"),
		"tether.s.web-1.admin.admin-1.in",
		"$JS.API.STREAM.DELETE.TETHER_TRANSCRIPTS",
		"$JS.API.STREAM.PURGE.TETHER_AUDIT",
		"$JS.API.STREAM.MSG.DELETE.TETHER_EVENTS",
		"$JS.API.CONSUMER.DELETE.TETHER_EVENTS.tether-shipper",
		"$JS.API.CONSUMER.DURABLE.CREATE.TETHER_EVENTS.tether-shipper",
		"$JS.API.CONSUMER.CREATE.TETHER_TRANSCRIPTS",
		"$JS.API.CONSUMER.CREATE.KV_tether_recordings.watch",
		"$KV.tether_users.mallory",
		"$KV.tether_policy.bundle",
		"$JS.API.DIRECT.GET.KV_tether_users.$KV.tether_users.admin",
		"tether.events.session.terminated",
	} {
		if err := nc.Publish(subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
		v.Has(t, "Publish to \""+subj+"\"")
	}
	// The JetStream API under its own name is not the broker's, and under the prefix the
	// shipper's account imports it, only the shipper's few subjects are there.
	raw, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.NewWithAPIPrefix(nc, accounts.ShipperAPIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	broker, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	refused := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	// No consumer of its own, on the transcripts or the events.
	for _, stream := range []string{jsdef.StreamTranscripts, jsdef.StreamEvents} {
		if _, err := raw.CreateConsumer(refused(), stream, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy}); err == nil {
			t.Fatalf("the shipper made a consumer on %s", stream)
		}
		v.Has(t, "Publish to \"$JS.API.CONSUMER.CREATE."+stream+".")
		if _, err := js.CreateConsumer(refused(), stream, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy}); err == nil {
			t.Fatalf("the shipper made a consumer on %s through its imports", stream)
		}
		v.Has(t, "Publish to \""+accounts.ShipperAPIPrefix+".CONSUMER.CREATE."+stream+".")
	}
	// The shared consumer can neither be changed, not even into a push consumer through
	// the older API, nor deleted.
	sharedInfo := func() jetstream.ConsumerConfig {
		t.Helper()
		c, err := broker.Consumer(t.Context(), jsdef.StreamEvents, ship.ConsumerName)
		if err != nil {
			t.Fatal(err)
		}
		return c.CachedInfo().Config
	}
	before := sharedInfo()
	changed := before
	changed.AckWait, changed.FilterSubjects, changed.MaxAckPending = time.Hour, []string{"tether.events.>"}, 1
	for _, j := range []jetstream.JetStream{raw, js} {
		if _, err := j.UpdateConsumer(refused(), jsdef.StreamEvents, changed); err == nil {
			t.Fatal("the shipper changed the shared consumer")
		}
	}
	v.Has(t, "Publish to \"$JS.API.CONSUMER.CREATE.TETHER_EVENTS.tether-shipper")
	v.Has(t, "Publish to \""+accounts.ShipperAPIPrefix+".CONSUMER.CREATE.TETHER_EVENTS.tether-shipper")
	push := before
	push.DeliverSubject = "elsewhere"
	req, _ := json.Marshal(struct {
		Stream string                   `json:"stream_name"`
		Config jetstream.ConsumerConfig `json:"config"`
	}{jsdef.StreamEvents, push})
	if _, err := nc.RequestWithContext(refused(), "$JS.API.CONSUMER.DURABLE.CREATE.TETHER_EVENTS.tether-shipper", req); err == nil {
		t.Fatal("the shipper made the shared consumer a push consumer")
	}
	for _, j := range []jetstream.JetStream{raw, js} {
		if err := j.DeleteConsumer(refused(), jsdef.StreamEvents, ship.ConsumerName); err == nil {
			t.Fatal("the shipper deleted the shared consumer")
		}
	}
	if after := sharedInfo(); !reflect.DeepEqual(after, before) {
		t.Fatalf("the shared consumer changed:\n%+v\nwas\n%+v", after, before)
	}

	// What it needs works. The durables the broker made: bound, fetched from, acknowledged.
	for _, c := range []struct{ consumer, event string }{
		{ship.ConsumerName, events.Terminated},
		{ship.StreamerConsumer, events.Started},
	} {
		if _, err := broker.Publish(t.Context(), subjects.SessionEvent(c.event), []byte(`{"data":{}}`)); err != nil {
			t.Fatal(err)
		}
		cons, err := js.Consumer(t.Context(), jsdef.StreamEvents, c.consumer)
		if err != nil {
			t.Fatalf("bind %s: %v", c.consumer, err)
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch from %s: %v", c.consumer, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if err := m.InProgress(); err != nil {
				t.Fatal(err)
			}
			if err := m.DoubleAck(t.Context()); err != nil {
				t.Fatalf("acknowledge %s's delivery: %v", c.consumer, err)
			}
		}
		if n != 1 || batch.Error() != nil {
			t.Fatalf("fetched %d from %s: %v", n, c.consumer, batch.Error())
		}
	}
	// A transcript, by direct gets: one message, and a batch.
	out := subjects.ForSession("web-1", "admin", "admin-1").Out
	if _, err := broker.Publish(t.Context(), out, []byte("frame")); err != nil {
		t.Fatal(err)
	}
	transcripts, err := js.Stream(t.Context(), jsdef.StreamTranscripts)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := transcripts.GetLastMsgForSubject(t.Context(), out); err != nil || string(m.Data) != "frame" {
		t.Fatalf("direct get of a frame: %v", err)
	}
	msgs, err := jetstreamext.GetBatch(t.Context(), js, jsdef.StreamTranscripts, 10, jetstreamext.GetBatchSubject(out))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m, err := range msgs {
		if err != nil || string(m.Data) != "frame" {
			t.Fatalf("batched direct get of a frame: %v", err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("batched direct get: %d messages", n)
	}
	// The buckets: session records read, the recordings bucket written.
	b, err := jsdef.BindShipping(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sessions.Get(t.Context(), "admin-nosuchsession"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("read a session record: %v", err)
	}
	if _, err := b.Recordings.Put(t.Context(), "shipper.ship1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
}
