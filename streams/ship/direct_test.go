package ship

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// jetStream is a bare JetStream server with the broker's streams and buckets.
func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsdef.Ensure(t.Context(), js, jsdef.Limits{}); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, m *nats.Msg) uint64 {
	t.Helper()
	ack, err := js.PublishMsg(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// readAll pages through subject from the first message, as the shippers do.
func readAll(t *testing.T, js jetstream.JetStream, stream, subject string) (msgs []storedMsg, pages int) {
	t.Helper()
	for from := uint64(1); ; pages++ {
		p, err := readPage(t.Context(), js, stream, subject, from)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.msgs) > pageSize {
			t.Fatalf("a page of %d messages", len(p.msgs))
		}
		msgs = append(msgs, p.msgs...)
		if len(p.msgs) > 0 {
			from = p.msgs[len(p.msgs)-1].seq + 1
		}
		if !p.more {
			return msgs, pages + 1
		}
	}
}

// A subject is read whole, page by page, and nothing of another subject comes with it.
func TestReadPagePagesThroughOneSubject(t *testing.T) {
	js := jetStream(t)
	a := subjects.ForSession("web-1", "alice", "alice-1").Out
	b := subjects.ForSession("web-1", "alice", "alice-2").Out
	var want []uint64
	for i := range 2*pageSize + 10 {
		seq := publish(t, js, &nats.Msg{Subject: a, Data: []byte(strconv.Itoa(i))})
		want = append(want, seq)
		publish(t, js, &nats.Msg{Subject: b, Data: []byte("other")})
	}
	got, pages := readAll(t, js, jsdef.StreamTranscripts, a)
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		if m.seq != want[i] || m.subject != a || string(m.data) != strconv.Itoa(i) || m.time.IsZero() {
			t.Fatalf("message %d = %+v, want seq %d of %s", i, m, want[i], a)
		}
	}
	// Nothing there: an empty page, not an error.
	none, _ := readAll(t, js, jsdef.StreamTranscripts, subjects.ForSession("web-1", "alice", "alice-3").Out)
	if len(none) != 0 {
		t.Fatalf("read %d messages of a subject without any", len(none))
	}
	// The whole stream, without a subject, as the archiver reads.
	all, _ := readAll(t, js, jsdef.StreamTranscripts, "")
	if len(all) != 2*len(want) {
		t.Fatalf("read %d messages of the stream, want %d", len(all), 2*len(want))
	}
}

// A publisher's own headers cannot pass for the server's: the reader neither loses its
// place nor stops early nor takes another subject's message for its own.
func TestReadPageIgnoresPublishersHeaders(t *testing.T) {
	js := jetStream(t)
	a := subjects.ForSession("web-1", "mallory", "mallory-1").Out
	publish(t, js, &nats.Msg{Subject: a, Data: []byte("one")})
	forged := nats.Header{}
	forged.Set(jetstream.SequenceHeader, "1")
	forged.Set(jetstream.SubjectHeader, "tether.s.web-1.alice.alice-1.out")
	forged.Set(jetstream.TimeStampHeaer, "2001-01-01T00:00:00Z")
	forged.Set(numPendingHeader, "0")
	forgedSeq := publish(t, js, &nats.Msg{Subject: a, Header: forged, Data: []byte("two")})
	lastSeq := publish(t, js, &nats.Msg{Subject: a, Data: []byte("three")})
	got, _ := readAll(t, js, jsdef.StreamTranscripts, a)
	if len(got) != 3 {
		t.Fatalf("read %d messages, want 3", len(got))
	}
	if m := got[1]; m.seq != forgedSeq || m.subject != a || m.time.Year() == 2001 || string(m.data) != "two" {
		t.Fatalf("forged message read as %+v", m)
	}
	if got[2].seq != lastSeq {
		t.Fatalf("last message read as %+v", got[2])
	}
}

// stored refuses what would make a reader go back, or read another subject as its own.
func TestStored(t *testing.T) {
	const subj = "tether.s.web-1.alice.alice-1.out"
	msg := func(kv ...string) *jetstream.RawStreamMsg {
		h := nats.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return &jetstream.RawStreamMsg{Header: h, Data: []byte("x")}
	}
	const ts = "2026-01-02T03:04:05.123456789Z"
	good := []string{jetstream.SequenceHeader, "7", jetstream.SubjectHeader, subj, jetstream.TimeStampHeaer, ts, numPendingHeader, "3"}
	for _, tc := range []struct {
		name        string
		m           *jetstream.RawStreamMsg
		subject     string
		from        uint64
		ok          bool
		seq, remain uint64
	}{
		{"good", msg(good...), subj, 7, true, 7, 3},
		{"any subject", msg(good...), "", 1, true, 7, 3},
		{"publisher's first, server's last", msg(append([]string{jetstream.SequenceHeader, "99", numPendingHeader, "0", jetstream.SubjectHeader, "x"}, good...)...), subj, 7, true, 7, 3},
		{"goes back", msg(good...), subj, 8, false, 0, 0},
		{"another subject", msg(good...), subj + "x", 1, false, 0, 0},
		{"no sequence", msg(jetstream.SubjectHeader, subj, jetstream.TimeStampHeaer, ts, numPendingHeader, "0"), subj, 1, false, 0, 0},
		{"bad sequence", msg(jetstream.SequenceHeader, "-1", jetstream.SubjectHeader, subj, jetstream.TimeStampHeaer, ts, numPendingHeader, "0"), subj, 1, false, 0, 0},
		{"no time", msg(jetstream.SequenceHeader, "7", jetstream.SubjectHeader, subj, numPendingHeader, "0"), subj, 1, false, 0, 0},
		{"no pending", msg(jetstream.SequenceHeader, "7", jetstream.SubjectHeader, subj, jetstream.TimeStampHeaer, ts), subj, 1, false, 0, 0},
		{"no headers", &jetstream.RawStreamMsg{}, "", 1, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm, remain, err := stored(tc.m, tc.subject, tc.from)
			if ok := err == nil; ok != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (sm.seq != tc.seq || remain != tc.remain || sm.subject != subj || sm.time.Format(time.RFC3339Nano) != ts) {
				t.Fatalf("stored = %+v, %d", sm, remain)
			}
		})
	}
}

// A session's output and recorded input, read by subject, come back merged in stream
// order, however the pages of the two subjects fall; a malformed frame is skipped.
func TestTranscriptReaderMergesInStreamOrder(t *testing.T) {
	js := jetStream(t)
	se := api.Session{ID: "alice-1", Target: "web-1", Owner: "alice", Recording: &api.SessionRecording{RecordInput: true}}
	sub := subjects.ForSession(se.Target, se.Owner, se.ID)
	type sent struct {
		input bool
		seq   uint64 // the frame's own
	}
	var want []sent
	var outSeq, inSeq uint64
	for i := range 3*pageSize + 7 {
		// Bursts of output, then of input, of varying lengths.
		input := (i/17)%3 == 2
		subj, seq := sub.Out, &outSeq
		if input {
			subj, seq = sub.Rin, &inSeq
		}
		*seq++
		publish(t, js, &nats.Msg{Subject: subj, Data: frame.Encode(frame.Frame{Type: frame.Stdout, Seq: *seq, Payload: []byte(fmt.Sprint(i))})})
		want = append(want, sent{input, *seq})
		if i == 100 {
			publish(t, js, &nats.Msg{Subject: sub.Out, Data: []byte("not a frame")})
		}
	}
	rd := newTranscriptReader(js, se)
	var got []sent
	for polls := 0; ; polls++ {
		if polls > 100 {
			t.Fatal("the reader never caught up")
		}
		fs, more, err := rd.poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.input != (f.f.Type == frame.Stdin) {
				t.Fatalf("frame %+v: input %v", f, f.input)
			}
			got = append(got, sent{f.input, f.seq})
		}
		if !more {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frame %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Caught up: nothing new, and a frame stored later is read next.
	if fs, more, err := rd.poll(t.Context()); err != nil || more || len(fs) != 0 {
		t.Fatalf("poll when caught up = %d frames, more %v, %v", len(fs), more, err)
	}
	publish(t, js, &nats.Msg{Subject: sub.Out, Data: frame.Encode(frame.Frame{Type: frame.Exit, Seq: outSeq + 1})})
	fs, more, err := rd.poll(t.Context())
	if err != nil || more || len(fs) != 1 || fs[0].seq != outSeq+1 || fs[0].input {
		t.Fatalf("poll after one more frame = %+v, more %v, %v", fs, more, err)
	}
}

// A reader stops when its context does, even while waiting for an answer.
func TestReadPageStopsWithContext(t *testing.T) {
	js := jetStream(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := readPage(ctx, js, jsdef.StreamTranscripts, "", 1); err == nil {
		t.Fatal("read with a cancelled context")
	}
}
