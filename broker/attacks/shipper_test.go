package attacks_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// A shipper outside the broker, with its key, asks JetStream for what would turn it into a
// tap: a push consumer delivering every session's recorded input into a live session's
// input (keystrokes replayed into bob's shell), a consumer or a stream delivering or
// republishing transcripts into a user's subjects, the shared durables changed or
// deleted, the other buckets read; under the JetStream API's own name and under the
// prefix its account imports. Each is refused by the server as a permission violation,
// and afterwards every stream and consumer is as it was. The shipper's own reads work.
// (broker/brokerd's TestShipperConfinement covers the shipper's work itself.)
func TestShipperCannotTap(t *testing.T) {
	seed, pub := brokertest.NewKey(t)
	w := newWorld(t, steerQuiet, func(o *brokerd.Options) { o.Shippers = map[string]string{"ship1": pub} })
	sc := newSteerScene(t, w, "victim-1")
	shipper := steerShipper(t, w, "ship1", seed)
	bobs := subjects.ForSession("victim-1", "bob", sc.session.Session.ID)
	sc.freeze(t)
	before := shipperJetStream(t, w)

	consumer := func(stream string, cfg map[string]any) []byte {
		return steerJSON(t, map[string]any{"stream_name": stream, "config": cfg})
	}
	rinToIn := map[string]any{"name": "rinpipe", "deliver_subject": bobs.In, "filter_subject": subjects.RecordedInput,
		"ack_policy": "none", "deliver_policy": "all"}
	toBob := map[string]any{"deliver_subject": accounts.LiveOut("victim-1", "bob", "loot"), "ack_policy": "none"}
	hijacked := map[string]any{"durable_name": ship.ConsumerName, "deliver_subject": subjects.UserInbox("bob") + ".loot",
		"filter_subject": subjects.EventsAll, "ack_policy": "explicit", "ack_wait": int64(time.Hour)}
	stream := func(cfg map[string]any) []byte { return steerJSON(t, cfg) }
	for _, a := range []struct {
		what, api string
		body      []byte
	}{
		{"recorded input pushed into bob's input", "CONSUMER.CREATE." + jsdef.StreamTranscripts + ".rinpipe." + subjects.RecordedInput,
			consumer(jsdef.StreamTranscripts, rinToIn)},
		{"the same, unnamed", "CONSUMER.CREATE." + jsdef.StreamTranscripts, consumer(jsdef.StreamTranscripts, rinToIn)},
		{"the same, as a durable", "CONSUMER.DURABLE.CREATE." + jsdef.StreamTranscripts + ".rinpipe", consumer(jsdef.StreamTranscripts, rinToIn)},
		{"transcripts pushed to bob", "CONSUMER.CREATE." + jsdef.StreamTranscripts, consumer(jsdef.StreamTranscripts, toBob)},
		{"a watch of the users", "CONSUMER.CREATE.KV_" + jsdef.BucketUsers, consumer("KV_"+jsdef.BucketUsers, toBob)},
		{"the shared durable made a push consumer", "CONSUMER.CREATE." + jsdef.StreamEvents + "." + ship.ConsumerName,
			consumer(jsdef.StreamEvents, hijacked)},
		{"the same, as a durable", "CONSUMER.DURABLE.CREATE." + jsdef.StreamEvents + "." + ship.ConsumerName, consumer(jsdef.StreamEvents, hijacked)},
		{"the streamer's durable deleted", "CONSUMER.DELETE." + jsdef.StreamEvents + "." + ship.StreamerConsumer, nil},
		{"the shared durable deleted", "CONSUMER.DELETE." + jsdef.StreamEvents + "." + ship.ConsumerName, nil},
		{"the shared durable paused", "CONSUMER.PAUSE." + jsdef.StreamEvents + "." + ship.ConsumerName,
			steerJSON(t, map[string]any{"pause_until": time.Now().Add(time.Hour)})},
		{"a stream republishing transcripts to bob", "STREAM.CREATE.LOOT", stream(map[string]any{
			"name": "LOOT", "storage": "memory", "sources": []map[string]any{{"name": jsdef.StreamTranscripts}},
			"republish": map[string]any{"src": ">", "dest": accounts.LiveOut("victim-1", "bob", "loot")}})},
		{"the transcripts republished to bob", "STREAM.UPDATE." + jsdef.StreamTranscripts, stream(map[string]any{
			"name": jsdef.StreamTranscripts, "subjects": []string{subjects.Transcripts, subjects.RecordedInput},
			"republish": map[string]any{"src": ">", "dest": "tether.live.{{wildcard(1)}}.bob.{{wildcard(3)}}.out"}})},
		{"the events fed the transcripts", "STREAM.UPDATE." + jsdef.StreamEvents, stream(map[string]any{
			"name": jsdef.StreamEvents, "subjects": []string{subjects.EventsAll}, "sources": []map[string]any{{"name": jsdef.StreamTranscripts}}})},
		{"the audit purged", "STREAM.PURGE." + jsdef.StreamAudit, nil},
		{"an admin's user record", "DIRECT.GET.KV_" + jsdef.BucketUsers + ".$KV." + jsdef.BucketUsers + ".admin", nil},
		{"the users", "DIRECT.GET.KV_" + jsdef.BucketUsers, steerJSON(t, map[string]any{"seq": 1})},
		{"the users' stream", "STREAM.INFO.KV_" + jsdef.BucketUsers, nil},
		{"a user record by sequence", "STREAM.MSG.GET.KV_" + jsdef.BucketUsers, steerJSON(t, map[string]any{"seq": 1})},
		{"the activations", "DIRECT.GET.KV_" + jsdef.BucketActivations, steerJSON(t, map[string]any{"seq": 1})},
		{"the policy", "DIRECT.GET.KV_" + jsdef.BucketPolicy + ".$KV." + jsdef.BucketPolicy + ".bundle", nil},
		{"the documents", "DIRECT.GET.KV_" + jsdef.BucketDocuments, steerJSON(t, map[string]any{"seq": 1})},
		{"the instances", "DIRECT.GET.KV_" + jsdef.BucketInstances + ".$KV." + jsdef.BucketInstances + ".victim-1", nil},
	} {
		for _, prefix := range []string{"$JS.API.", accounts.ShipperAPIPrefix + "."} {
			s := prefix + a.api
			if err := shipper.Publish(s, a.body); err != nil {
				t.Fatal(err)
			}
			shipper.v.Has(t, "Publish to \""+s+"\"")
		}
	}
	for _, s := range []string{
		"$KV." + jsdef.BucketUsers + ".evil", accounts.ShipperAPIPrefix + ".$KV." + jsdef.BucketUsers + ".evil",
		"$KV." + jsdef.BucketPolicy + ".bundle", accounts.ShipperAPIPrefix + ".$KV." + jsdef.BucketSessions + "." + sc.session.Session.ID,
		subjects.API("admin", api.VerbWhoAmI), subjects.AgentAPI("victim-1", api.VerbRegister),
		bobs.In, bobs.Out, bobs.Rin, subjects.SessionEvent(events.Terminated),
	} {
		if err := shipper.Publish(s, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		shipper.v.Has(t, "Publish to \""+s+"\"")
	}
	for _, s := range []string{"tether.s.>", "tether.live.>", subjects.EventsAll, subjects.UserInbox("bob") + ".>", "$KV.>", "$JS.>"} {
		if _, err := shipper.Subscribe(s, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		shipper.v.Has(t, "Subscription to \""+s+"\"")
	}

	sc.intact(t)
	after := shipperJetStream(t, w)
	if !maps.Equal(after, before) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("%s is now\n%s\nwas\n%s", k, v, before[k])
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Errorf("%s is gone", k)
			}
		}
	}
	if taps := shipperTaps(t, w); len(taps) > 0 {
		t.Errorf("JetStream delivers where it should not:\n%s", strings.Join(taps, "\n"))
	}

	// What a shipper needs still works: bob's session record and the transcripts' info.
	js, err := jetstream.NewWithAPIPrefix(shipper.Conn, accounts.ShipperAPIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jsdef.BindShipping(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := b.Sessions.Get(t.Context(), sc.session.Session.ID); err != nil || !strings.Contains(string(e.Value()), sc.session.Session.ID) {
		t.Fatalf("the shipper reads bob's session record: %v", err)
	}
	if _, err := js.Stream(t.Context(), jsdef.StreamTranscripts); err != nil {
		t.Fatalf("the shipper reads the transcripts' info: %v", err)
	}
}

// shipperJetStream is every stream's and consumer's configuration, as JSON, by name; but
// the broker's own watches of its buckets (ephemeral push consumers into its inbox, which
// it makes again as it likes).
func shipperJetStream(t *testing.T, w *world) map[string]string {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	streams := js.ListStreams(t.Context())
	for info := range streams.Info() {
		b, _ := json.Marshal(info.Config)
		out["stream "+info.Config.Name] = string(b)
		s, err := js.Stream(t.Context(), info.Config.Name)
		if err != nil {
			t.Fatal(err)
		}
		consumers := s.ListConsumers(t.Context())
		for ci := range consumers.Info() {
			if strings.HasPrefix(ci.Config.DeliverSubject, subjects.ControlPlaneInbox+".") {
				continue
			}
			b, _ := json.Marshal(ci.Config)
			out["consumer "+info.Config.Name+"/"+ci.Name] = string(b)
		}
		if err := consumers.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := streams.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// shipperTaps are the streams and consumers that deliver anywhere but where the broker
// has its streams deliver: push consumers other than the broker's own watches (which
// deliver into its inbox), streams fed from another, and republishing other than the
// transcripts' to the live subjects.
func shipperTaps(t *testing.T, w *world) []string {
	t.Helper()
	js, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	var taps []string
	streams := js.ListStreams(t.Context())
	for info := range streams.Info() {
		c := info.Config
		if rp := c.RePublish; rp != nil && (c.Name != jsdef.StreamTranscripts || rp.Source != accounts.LiveRepublishSource ||
			rp.Destination != accounts.LiveRepublishDestination) {
			taps = append(taps, fmt.Sprintf("stream %s republishes %s to %s", c.Name, rp.Source, rp.Destination))
		}
		if c.Mirror != nil || len(c.Sources) > 0 {
			taps = append(taps, fmt.Sprintf("stream %s is fed from another stream", c.Name))
		}
		s, err := js.Stream(t.Context(), c.Name)
		if err != nil {
			t.Fatal(err)
		}
		consumers := s.ListConsumers(t.Context())
		for ci := range consumers.Info() {
			if d := ci.Config.DeliverSubject; d != "" && !strings.HasPrefix(d, subjects.ControlPlaneInbox+".") {
				taps = append(taps, fmt.Sprintf("consumer %s/%s pushes to %s", c.Name, ci.Name, ci.Config.DeliverSubject))
			}
		}
	}
	return taps
}

// A shipper's pull from the shared durable, with its reply subject aimed at bob's inbox,
// his session's input or his live output, is served (the messages are delivered and wait
// for their acknowledgement) but delivered into the shipper's own account only: bob and
// the victim agent receive nothing.
func TestShipperSteersPull(t *testing.T) {
	seed, pub := brokertest.NewKey(t)
	w := newWorld(t, steerQuiet, func(o *brokerd.Options) { o.Shippers = map[string]string{"ship1": pub} })
	sc := newSteerScene(t, w, "victim-1")
	shipper := steerShipper(t, w, "ship1", seed)
	home := subjects.ShipperInbox("ship1") + ".pull"
	targets := append(sc.targets(""), accounts.LiveOut("victim-1", "bob", sc.session.Session.ID), home)
	broker, err := jetstream.New(w.Conn())
	if err != nil {
		t.Fatal(err)
	}
	// Events with empty bodies, as a stream purge or delete takes its request: the
	// broker's events never are, but here they are, to give the attack its best chance.
	for range targets {
		if _, err := broker.Publish(t.Context(), subjects.SessionEvent(events.Terminated), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	homeSub, err := shipper.SubscribeSync(home)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := broker.Consumer(t.Context(), jsdef.StreamEvents, ship.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	sc.freeze(t)
	next := accounts.ShipperAPIPrefix + ".CONSUMER.MSG.NEXT." + jsdef.StreamEvents + "." + ship.ConsumerName
	for _, target := range targets {
		if err := shipper.PublishMsg(&nats.Msg{Subject: next, Reply: target, Data: []byte(`{"batch":1,"no_wait":true}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// The consumer serves its pulls in order and its deliveries go out in order: once the
	// shipper's own inbox, the last target, got its message, the earlier ones were routed.
	// (Deliveries the shipper's account has no interest in are not made at all.)
	if _, err := homeSub.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the pull aimed at the shipper's own inbox: %v", err)
	}
	sc.intact(t)
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pulls, %d deliveries made", len(targets), info.Delivered.Consumer)
}
