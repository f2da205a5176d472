package attacks_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// steerQuiet is the world of the steering and relay attacks: no in-process shipper (its
// consumers and bucket writes would blur what an attack changed) and fake agents that
// need no heartbeat to keep their sessions.
func steerQuiet(o *brokerd.Options) {
	o.Recordings.NoShip = true
	o.AgentLostAfter = time.Hour
}

// steerScene is what a steered answer or a relayed message is aimed at, and the proof that
// it got nowhere: bob, a user with a session running on the victim agent, listening on his
// inbox and his session's output and window reports; the victim agent, listening on its
// sessions' input and its inbox; a spy in the service account on every target subject;
// and the state of the broker (streams, buckets, consumers, users, policy, preferences,
// bob's session) from before the attack.
type steerScene struct {
	w       *world
	bob     *conn // bob's connection that only listens
	victim  *fakeAgent
	session api.StartSessionResponse // bob's, on the victim agent
	spy     *steerSpy

	mu  sync.Mutex
	got []string // what bob and the victim agent received: "subject: data"

	before    state
	consumers map[string]int
	users     []string
	policy    api.PolicyStatusResponse
	prefs     api.GetPreferencesResponse
	sess      api.Session
}

// newSteerScene adds bob (tagged env=test, so he may start sessions on the victim agent),
// the victim agent, bob's session on it, and their listeners.
func newSteerScene(t *testing.T, w *world, victim string) *steerScene {
	t.Helper()
	sc := &steerScene{w: w, spy: newSteerSpy(t, w)}
	sc.victim = w.agent(t, victim)
	seed := w.AddUser("bob", nil, map[string]string{"env": "test"})
	bob := w.userWithSeed(t, "bob", seed)
	sc.session = w.startSession(t, bob.Conn, "bob", victim)
	sc.bob = w.userWithSeed(t, "bob", seed)
	record := func(m *nats.Msg) {
		sc.mu.Lock()
		sc.got = append(sc.got, m.Subject+": "+string(m.Data))
		sc.mu.Unlock()
	}
	for _, s := range []string{subjects.UserInbox("bob") + ".>", sc.session.Subjects.Out, sc.session.Subjects.Ctl} {
		if _, err := sc.bob.Subscribe(s, record); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"tether.s." + victim + ".*.*.in", subjects.AgentInbox(victim) + ".>"} {
		if _, err := sc.victim.Subscribe(s, record); err != nil {
			t.Fatal(err)
		}
	}
	steerFlush(t, sc.bob.Conn, sc.victim.Conn)
	sc.spy.watch(t, sc.targets("")...)
	// Ended while the victim agent is still there (cleanups run last first): otherwise the
	// broker, closing, waits for it in vain.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := api.Call(ctx, sc.victim.Conn, subjects.AgentAPI(victim, api.VerbSessionEnded),
			api.SessionEndedRequest{SessionID: sc.session.Session.ID}, nil); err != nil {
			t.Errorf("end bob's session: %v", err)
		}
	})
	return sc
}

// targets are the subjects a steered answer or relayed message is aimed at: the
// JetStream API, the buckets, other principals' APIs, inboxes and sessions, the events
// and the audit trail. own is the attacker's own API subject prefix, if it has one, so
// that answers aimed back into its own API are tried too.
func (sc *steerScene) targets(own string) []string {
	v := sc.victim.id
	s := subjects.ForSession(v, "bob", sc.session.Session.ID) // Rin too, which the start response leaves out
	out := []string{
		"$JS.API.STREAM.PURGE." + jsdef.StreamAudit,
		"$JS.API.STREAM.DELETE." + jsdef.StreamTranscripts,
		"$JS.API.STREAM.DELETE.KV_" + jsdef.BucketUsers,
		"$JS.API.CONSUMER.CREATE." + jsdef.StreamTranscripts,
		"$KV." + jsdef.BucketDocuments + ".Tether-SessionManagerRunShell",
		"$KV." + jsdef.BucketPolicy + ".bundle",
		"$KV." + jsdef.BucketUsers + ".mallory",
		subjects.API("admin", api.VerbAddUser),
		subjects.API("admin", api.VerbRemoveUser),
		subjects.API("bob", api.VerbTerminateSession),
		subjects.AgentAPI(v, api.VerbRegister),
		subjects.AgentAPI(v, api.VerbSessionEnded),
		subjects.AgentControl(v),
		subjects.UserInbox("bob") + ".x",
		subjects.AgentInbox(v) + ".x",
		subjects.SessionEvent("started"),
		subjects.Audit(api.VerbStartSession),
		s.In, s.Out, s.Ctl, s.Rin,
	}
	if own != "" {
		out = append(out, own)
	}
	return out
}

// freeze records the broker's state before an attack.
func (sc *steerScene) freeze(t *testing.T) {
	t.Helper()
	sc.spy.mu.Lock()
	sc.spy.targets = nil
	sc.spy.mu.Unlock()
	sc.mu.Lock()
	sc.got = nil
	sc.mu.Unlock()
	sc.before = sc.w.snapshot(t)
	sc.consumers = steerConsumers(t, sc.w)
	sc.users, sc.policy, sc.prefs, sc.sess = sc.read(t)
}

// read is what the admin's API says of users, policy, preferences and bob's session.
func (sc *steerScene) read(t *testing.T) ([]string, api.PolicyStatusResponse, api.GetPreferencesResponse, api.Session) {
	t.Helper()
	w := sc.w
	var users api.ListUsersResponse
	var pol api.PolicyStatusResponse
	var prefs api.GetPreferencesResponse
	var sess api.GetSessionResponse
	for _, c := range []struct {
		verb      string
		req, resp any
	}{
		{api.VerbListUsers, nil, &users},
		{api.VerbPolicyStatus, nil, &pol},
		{api.VerbGetPreferences, nil, &prefs},
		{api.VerbGetSession, api.GetSessionRequest{SessionID: sc.session.Session.ID}, &sess},
	} {
		if err := w.Call(w.Admin, "admin", c.verb, c.req, c.resp); err != nil {
			t.Fatalf("%s as admin: %v", c.verb, err)
		}
	}
	var names []string
	for _, u := range users.Users {
		names = append(names, u.Name)
	}
	slices.Sort(names)
	return names, pol, prefs, sess.Session
}

// intact fails the test if an attack had any effect: a stream, bucket or consumer
// changed, a message reached a target subject in the service account, bob or the victim
// agent received anything, the victim was told to start or end a session, or the users,
// policy, preferences or bob's session changed.
func (sc *steerScene) intact(t *testing.T) {
	t.Helper()
	w := sc.w
	steerFlush(t, sc.bob.Conn, sc.victim.Conn, sc.spy.nc)
	w.unchanged(t, sc.before)
	if got := steerConsumers(t, w); !reflect.DeepEqual(got, sc.consumers) {
		t.Errorf("consumers changed: %v, were %v", got, sc.consumers)
	}
	if hits := sc.spy.hits(); len(hits) > 0 {
		t.Errorf("messages reached the service account on target subjects:\n%s", strings.Join(hits, "\n"))
	}
	sc.mu.Lock()
	got := slices.Clone(sc.got)
	sc.mu.Unlock()
	if len(got) > 0 {
		t.Errorf("bob or the victim agent received:\n%s", strings.Join(got, "\n"))
	}
	if n, terms := sc.victim.started(), sc.victim.steerTerms(); n != 1 || terms != 0 {
		t.Errorf("the victim agent was asked to start %d sessions (want the 1 of bob's) and end %d", n, terms)
	}
	users, pol, prefs, sess := sc.read(t)
	if !slices.Equal(users, sc.users) {
		t.Errorf("users are %v, were %v", users, sc.users)
	}
	if !reflect.DeepEqual(pol, sc.policy) {
		t.Errorf("policy status is %+v, was %+v", pol, sc.policy)
	}
	if !reflect.DeepEqual(prefs, sc.prefs) {
		t.Errorf("preferences are %+v, were %+v", prefs, sc.prefs)
	}
	if sess.State != sc.sess.State || sess.Ended() {
		t.Errorf("bob's session is %s (%s %s), was %s", sess.State, sess.Reason, sess.Detail, sc.sess.State)
	}
}

// steerTerms is how many sessions the agent was asked to end.
func (a *fakeAgent) steerTerms() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.terms)
}

// steerConsumers counts the consumers of every stream the broker keeps.
func steerConsumers(t *testing.T, w *world) map[string]int {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for n := range w.snapshot(t).streams {
		s, err := js.Stream(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out[n] = info.State.Consumers
	}
	return out
}

// steerFlush makes a round trip on each connection: whatever the server had routed to
// it before has been received.
func steerFlush(t *testing.T, ncs ...*nats.Conn) {
	t.Helper()
	for _, nc := range ncs {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			t.Fatalf("flush %s: %v", nc.Opts.Name, err)
		}
	}
}

// steerSpy watches the service account from inside it, on a connection of its own: the
// requests that cross into it on some subjects (with the reply subject the server gave
// each), the answers sent on server-made reply subjects, and the subjects an attack aims
// at.
type steerSpy struct {
	nc *nats.Conn

	mu       sync.Mutex
	asked    map[string][]string // request subject pattern: the replies of principals' requests
	count    map[string]int      // request subject pattern: how many requests arrived, but the broker's
	answered map[string]bool     // "_R_." subjects something was published on
	targets  []string            // "subject: data" of messages on watched targets
}

func newSteerSpy(t *testing.T, w *world) *steerSpy {
	t.Helper()
	nc, err := w.InternalConn("attacks spy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sp := &steerSpy{nc: nc, asked: map[string][]string{}, count: map[string]int{}, answered: map[string]bool{}}
	if _, err := nc.Subscribe("_R_.>", func(m *nats.Msg) {
		sp.mu.Lock()
		sp.answered[m.Subject] = true
		sp.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	return sp
}

// watch records every message on subjects, in the service account.
func (sp *steerSpy) watch(t *testing.T, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if _, err := sp.nc.Subscribe(s, func(m *nats.Msg) {
			sp.mu.Lock()
			sp.targets = append(sp.targets, m.Subject+": "+string(m.Data))
			sp.mu.Unlock()
		}); err != nil {
			t.Fatalf("spy on %s: %v", s, err)
		}
	}
	if err := sp.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// requests records the requests that arrive on pattern in the service account (once per
// pattern, however often it is asked).
func (sp *steerSpy) requests(t *testing.T, pattern string) {
	t.Helper()
	sp.mu.Lock()
	_, done := sp.count[pattern]
	sp.count[pattern] += 0
	sp.mu.Unlock()
	if done {
		return
	}
	if _, err := sp.nc.Subscribe(pattern, func(m *nats.Msg) {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		// The broker's own requests on the subject (a snapshot's stream info) have their
		// replies in its inbox; a principal's crossed an import.
		if !strings.HasPrefix(m.Reply, subjects.ControlPlaneInbox+".") {
			sp.count[pattern]++
		}
		if strings.HasPrefix(m.Reply, "_R_.") {
			sp.asked[pattern] = append(sp.asked[pattern], m.Reply)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := sp.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// allAnswered waits until n requests of principals arrived on pattern since the last
// call, and something was published on the reply subject the server gave each.
func (sp *steerSpy) allAnswered(t *testing.T, pattern string, n int) {
	t.Helper()
	brokertest.WaitFor(t, 10*time.Second, "answers to the requests on "+pattern, func() bool {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		replies := sp.asked[pattern]
		if len(replies) < n {
			return false
		}
		for _, r := range replies {
			if !sp.answered[r] {
				return false
			}
		}
		sp.asked[pattern] = nil
		return true
	})
}

// seen is how many requests arrived on pattern with their replies outside the broker's
// inbox.
func (sp *steerSpy) seen(pattern string) int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.count[pattern]
}

func (sp *steerSpy) hits() []string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return slices.Clone(sp.targets)
}

// steerJSON is v as JSON.
func steerJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
