package attacks_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// steerRequest is a request a principal may make, sent with a reply subject of its
// choosing.
type steerRequest struct {
	subject string // in the principal's account
	body    []byte
	// crossed is the subject the request has in the service account, where the spy
	// counts it and its answer.
	crossed string
}

// steerPrincipal is one kind of principal, connected with the keys it legitimately holds.
type steerPrincipal struct {
	name     string
	nc       *nats.Conn
	v        *brokertest.Violations
	requests []steerRequest
	// own is where the principal may publish itself: an answer steered there is no more
	// than what it can do anyway, but must not become more.
	own string
	// inbox is a subject of the principal's own inbox: the one target where its answers
	// are delivered.
	inbox string
}

// steerEnrolling connects as an agent enrolling with a new activation, without enrolling:
// the key it holds and the activation's id and code, nothing else.
func steerEnrolling(t *testing.T, w *world, name string) (c *conn, enroll string) {
	t.Helper()
	act := w.Activation(name, map[string]string{"env": "test"}, 1)
	seed, pub := brokertest.NewKey(t)
	v := &brokertest.Violations{}
	nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed), nats.UserInfo(act.ID, act.Code),
		nats.CustomInboxPrefix(subjects.EnrollInbox(pub)), nats.ErrorHandler(v.Handler))...)
	if err != nil {
		t.Fatalf("enrollment connection: %v", err)
	}
	t.Cleanup(nc.Close)
	return &conn{Conn: nc, name: pub, v: v}, subjects.Enroll(act.ID, pub)
}

// steerShipper connects as the out-of-process shipper name.
func steerShipper(t *testing.T, w *world, name string, seed []byte) *conn {
	t.Helper()
	v := &brokertest.Violations{}
	nc, err := nats.Connect(w.URL(), append(brokertest.KeyOptions(t, seed),
		nats.CustomInboxPrefix(subjects.ShipperInbox(name)), nats.ErrorHandler(v.Handler))...)
	if err != nil {
		t.Fatalf("shipper connection: %v", err)
	}
	t.Cleanup(nc.Close)
	return &conn{Conn: nc, name: name, v: v}
}

// malformedEnroll is an Enroll request the control plane answers with an error without
// spending the activation.
var malformedEnroll = []byte(`{"hostname": 1}`)

// The reply subject of every request a principal may make is steered onto every target:
// the JetStream API (purge the audit, delete the transcripts and the users bucket, make a
// consumer), the buckets (preferences, policy, users), an admin's API, the victim agent's
// API and control subject, bob's and the victim agent's inboxes, the events and the audit
// trail, and bob's running session. The server gives each request a reply subject of its
// own that leads back into the principal's account, so the answer lands on the target
// there, where none of these exist: nothing changes, nothing arrives anywhere.
func TestSteerReplies(t *testing.T) {
	shipSeed, shipPub := brokertest.NewKey(t)
	w := newWorld(t, steerQuiet, func(o *brokerd.Options) { o.Shippers = map[string]string{"ship1": shipPub} })
	sc := newSteerScene(t, w, "victim-1")

	mallory := w.user(t, "mallory", nil, nil) // no group, no attribute: no grant
	rogue := w.agent(t, "rogue-1")
	enrolling, enroll := steerEnrolling(t, w, "late-1")
	ship := steerShipper(t, w, "ship1", shipSeed)
	// The shipper may write the recordings bucket and read it back by direct gets, whose
	// answers are the stored bodies: it chooses what its steered answers say. One says
	// nothing (an empty request, as a stream purge or delete takes), one asks to add an
	// admin.
	evil := steerJSON(t, api.AddUserRequest{User: api.User{Name: "evil", NKey: "UEVIL", Groups: []string{api.AdminGroup}}})
	for key, body := range map[string][]byte{"steer-empty": []byte("{}"), "steer-evil": evil} {
		if _, err := ship.Request(accounts.ShipperAPIPrefix+".$KV."+jsdef.BucketRecordings+"."+key, body, 5*time.Second); err != nil {
			t.Fatalf("the shipper writes the recordings bucket: %v", err)
		}
	}
	directGet := func(key string) steerRequest {
		rest := "DIRECT.GET.KV_" + jsdef.BucketRecordings + ".$KV." + jsdef.BucketRecordings + "." + key
		return steerRequest{subject: accounts.ShipperAPIPrefix + "." + rest, crossed: "$JS.API." + rest}
	}

	for _, p := range []steerPrincipal{
		{
			name: "user", nc: mallory.Conn, v: mallory.v,
			own: subjects.API("mallory", api.VerbAddUser), inbox: subjects.UserInbox("mallory") + ".steer",
			requests: []steerRequest{
				{subject: subjects.API("mallory", api.VerbWhoAmI)},
				{subject: subjects.API("mallory", api.VerbAddUser), body: evil}, // denied: an error answer
			},
		},
		{
			// A heartbeat's answer is "{}", which a stream purge or delete takes as its request.
			name: "agent", nc: rogue.Conn, v: rogue.v,
			own: subjects.AgentAPI(rogue.id, api.VerbRegister), inbox: subjects.AgentInbox(rogue.id) + ".steer",
			// Port forwarding's verbs, about a session that is not its own: error answers.
			requests: []steerRequest{
				{subject: subjects.AgentAPI(rogue.id, api.VerbHeartbeat), body: []byte(`{"run_id":"` + rogue.run + `"}`)},
				{subject: subjects.AgentAPI(rogue.id, api.VerbForwardOpen), body: steerJSON(t, api.ForwardOpenRequest{SessionID: "bob-none", ConnID: 1, Address: "169.254.169.254:80"})},
				{subject: subjects.AgentAPI(rogue.id, api.VerbForwardClosed), body: steerJSON(t, api.ForwardClosedRequest{SessionID: "bob-none", ConnID: 1, ClosedAt: time.Now(), Reason: api.FwdClientClose})},
			},
		},
		{
			name: "enrolling agent", nc: enrolling.Conn, v: enrolling.v,
			own: enroll, inbox: subjects.EnrollInbox(enrolling.name) + ".steer",
			requests: []steerRequest{{subject: enroll, body: malformedEnroll}},
		},
		{
			name: "shipper", nc: ship.Conn, v: ship.v,
			inbox: subjects.ShipperInbox("ship1") + ".steer",
			requests: []steerRequest{
				{subject: accounts.ShipperAPIPrefix + ".STREAM.INFO." + jsdef.StreamAudit, crossed: "$JS.API.STREAM.INFO." + jsdef.StreamAudit},
				directGet("steer-empty"),
				directGet("steer-evil"),
			},
		},
	} {
		t.Run(p.name, func(t *testing.T) {
			for i := range p.requests {
				if p.requests[i].crossed == "" {
					p.requests[i].crossed = p.requests[i].subject
				}
				sc.spy.requests(t, p.requests[i].crossed)
			}
			home, err := p.nc.SubscribeSync(p.inbox)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = home.Unsubscribe() }()
			sc.freeze(t)
			targets := append(sc.targets(p.own), p.inbox)
			for _, r := range p.requests {
				for _, target := range targets {
					if err := p.nc.PublishMsg(&nats.Msg{Subject: r.subject, Reply: target, Data: r.body}); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Every steered request was answered; then the same request, asked properly,
			// is answered on the same path after them: whatever the steered answers did
			// is done.
			for _, r := range p.requests {
				sc.spy.allAnswered(t, r.crossed, len(targets))
				if _, err := p.nc.Request(r.subject, r.body, 5*time.Second); err != nil {
					t.Fatalf("%s answers %s: %v", p.name, r.subject, err)
				}
			}
			sc.intact(t)
			// The answers were sent, and delivered: to the principal's own account.
			steerFlush(t, p.nc)
			if n, _, _ := home.Pending(); n != len(p.requests) {
				t.Errorf("the %s's own inbox got %d answers, want %d", p.name, n, len(p.requests))
			}
			if errs := p.v.Errs(); len(errs) > 0 {
				t.Errorf("the server refused the %s's requests: %v", p.name, errs)
			}
		})
	}

	// The server refuses outright a publish whose reply subject is one of its own
	// (a service import's "_R_." or a JetStream acknowledgement), from a principal and from
	// inside the service account alike: the request never arrives.
	t.Run("reserved replies", func(t *testing.T) {
		internal, err := w.InternalConn("attacks in-service-account caller")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(internal.Close)
		iv := &brokertest.Violations{}
		internal.SetErrorHandler(iv.Handler)
		eventsInfo := accounts.ShipperAPIPrefix + ".STREAM.INFO." + jsdef.StreamEvents
		who := []struct {
			name             string
			nc               *nats.Conn
			v                *brokertest.Violations
			subject, crossed string
		}{
			{"user", mallory.Conn, mallory.v, subjects.API("mallory", api.VerbListUsers), ""},
			{"agent", rogue.Conn, rogue.v, subjects.AgentAPI(rogue.id, api.VerbSessionEnded), ""},
			{"enrolling agent", enrolling.Conn, enrolling.v, enroll, ""},
			{"shipper", ship.Conn, ship.v, eventsInfo, "$JS.API.STREAM.INFO." + jsdef.StreamEvents},
			{"service account", internal, iv, subjects.API("admin", api.VerbListActivations), ""},
		}
		seen := map[string]int{}
		for i, c := range who {
			if c.crossed == "" {
				who[i].crossed = c.subject
			}
			sc.spy.requests(t, who[i].crossed)
			seen[c.name] = sc.spy.seen(who[i].crossed)
		}
		sc.freeze(t)
		for _, c := range who {
			for _, reply := range []string{"_R_.steal", "$JS.ACK." + jsdef.StreamEvents + ".tether-shipper.1.1.1.1.1.0"} {
				if err := c.nc.PublishMsg(&nats.Msg{Subject: c.subject, Reply: reply, Data: []byte("{}")}); err != nil {
					t.Fatal(err)
				}
				c.v.Has(t, "Publish with Reply of \""+reply+"\"")
			}
		}
		sc.intact(t)
		for _, c := range who {
			if n := sc.spy.seen(c.crossed) - seen[c.name]; n != 0 {
				t.Errorf("%s: %d requests with a reserved reply subject arrived", c.name, n)
			}
		}
	})

	// A request made inside the service account (the broker's own connection, as a
	// worker's bug might) with its reply outside the control plane's inbox is refused,
	// unanswered, and the refusal logged; whoever it names as its caller.
	t.Run("service account", func(t *testing.T) {
		sc.freeze(t)
		nc := w.Conn()
		requests := []struct {
			subject, kind string
			body          []byte
		}{
			{subjects.API("admin", api.VerbListUsers), "user", nil},
			{subjects.AgentAPI(sc.victim.id, api.VerbHeartbeat), "agent", []byte("{}")},
			{subjects.Enroll("act-nosuch", "UNOSUCHKEY"), "enrollment", malformedEnroll},
		}
		for _, r := range requests {
			for _, target := range sc.targets("") {
				if err := nc.PublishMsg(&nats.Msg{Subject: r.subject, Reply: target, Data: r.body}); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The same requests with their replies in the broker's inbox are answered, after
		// the steered ones were refused (requests are received in order, and a refusal
		// is made on receipt).
		for _, r := range requests {
			if _, err := nc.Request(r.subject, r.body, 5*time.Second); err != nil {
				t.Fatalf("%s from the service account: %v", r.subject, err)
			}
		}
		sc.intact(t)
		// Only the first refusal of each caller is logged (refusals are sampled).
		for _, r := range requests {
			w.logged(t, "request refused", "caller_kind="+r.kind, "caller="+r.subject,
				"is outside the service account's inbox", "$JS.API.STREAM.PURGE."+jsdef.StreamAudit)
		}
	})
}
