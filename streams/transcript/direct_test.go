package transcript

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// readAll pages through subject from the first message, as the shippers do.
func readAll(t *testing.T, js jetstream.JetStream, stream, subject string) (msgs []Msg, pages int) {
	t.Helper()
	for from := uint64(1); ; pages++ {
		p, err := ReadPage(t.Context(), js, stream, subject, from)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Msgs) > PageSize {
			t.Fatalf("a page of %d messages", len(p.Msgs))
		}
		msgs = append(msgs, p.Msgs...)
		if len(p.Msgs) > 0 {
			from = p.Msgs[len(p.Msgs)-1].Seq + 1
		}
		if !p.More {
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
	for i := range 2*PageSize + 10 {
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
		if m.Seq != want[i] || m.Subject != a || string(m.Data) != strconv.Itoa(i) || m.Time.IsZero() {
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
	if m := got[1]; m.Seq != forgedSeq || m.Subject != a || m.Time.Year() == 2001 || string(m.Data) != "two" {
		t.Fatalf("forged message read as %+v", m)
	}
	if got[2].Seq != lastSeq {
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
		{"sequence zero", msg(jetstream.SequenceHeader, "0", jetstream.SubjectHeader, subj, jetstream.TimeStampHeaer, ts, numPendingHeader, "0"), subj, 0, false, 0, 0},
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
			if tc.ok && (sm.Seq != tc.seq || remain != tc.remain || sm.Subject != subj || sm.Time.Format(time.RFC3339Nano) != ts) {
				t.Fatalf("stored = %+v, %d", sm, remain)
			}
		})
	}
}

// A session's output and recorded input, read by subject, come back merged in stream
// order, however the pages of the two subjects fall.
func TestDirectMergesInStreamOrder(t *testing.T) {
	js := jetStream(t)
	sub := subjects.ForSession("web-1", "alice", "alice-1")
	type sent struct {
		input bool
		seq   uint64 // the stream's
	}
	var want []sent
	for i := range 3*PageSize + 7 {
		// Bursts of output, then of input, of varying lengths.
		input := (i/17)%3 == 2
		subj := sub.Out
		if input {
			subj = sub.Rin
		}
		want = append(want, sent{input, publish(t, js, &nats.Msg{Subject: subj, Data: []byte(fmt.Sprint(i))})})
	}
	d := NewDirect(js, jsdef.StreamTranscripts, 1, sub.Out, sub.Rin)
	var got []sent
	for polls := 0; ; polls++ {
		if polls > 100 {
			t.Fatal("the reader never caught up")
		}
		p, err := d.Next(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Msgs {
			if m.Input != (m.Subject == sub.Rin) {
				t.Fatalf("message %+v: input %v", m, m.Input)
			}
			got = append(got, sent{m.Input, m.Seq})
		}
		if !p.More {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Caught up: nothing new, and a message stored later is read next.
	if p, err := d.Next(t.Context(), 0); err != nil || p.More || len(p.Msgs) != 0 {
		t.Fatalf("read when caught up = %d messages, more %v, %v", len(p.Msgs), p.More, err)
	}
	last := publishFrame(t, js, sub.Out, 1, "x")
	p, err := d.Next(t.Context(), 0)
	if err != nil || p.More || len(p.Msgs) != 1 || p.Msgs[0].Seq != last || p.Msgs[0].Input {
		t.Fatalf("read after one more message = %+v, %v", p, err)
	}
}

// A reader stops when its context does, even while waiting for an answer.
func TestReadPageStopsWithContext(t *testing.T) {
	js := jetStream(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ReadPage(ctx, js, jsdef.StreamTranscripts, "", 1); err == nil {
		t.Fatal("read with a cancelled context")
	}
}

// The Reader decodes what Direct reads: output and input each in its own sequence order
// (a frame published again after later ones takes its place, a duplicate is dropped), a
// malformed message skipped and counted.
func TestReaderOrdersEachDirection(t *testing.T) {
	js := jetStream(t)
	sub := subjects.ForSession("web-1", "alice", "alice-1")
	out := func(seq uint64) { publishFrame(t, js, sub.Out, seq, "o"+strconv.FormatUint(seq, 10)) }
	in := func(seq uint64) { publishFrame(t, js, sub.Rin, seq, "i"+strconv.FormatUint(seq, 10)) }
	out(1)
	in(1)
	out(3) // 2 is refused and published again below
	in(3)
	out(4)
	publish(t, js, &nats.Msg{Subject: sub.Out, Data: []byte("not a frame")})
	out(2)
	in(2)
	out(2) // stored twice: its acknowledgement was lost
	out(5)
	// The broker's End frame follows the record; it is not output.
	publish(t, js, &nats.Msg{Subject: sub.Out, Data: frame.Encode(frame.Frame{Type: frame.End, Payload: frame.EncodeExit(frame.ExitStatus{Code: 0, Reason: "exit"})})})
	frames, stats, err := ReadAll(t.Context(), NewDirect(js, jsdef.StreamTranscripts, 1, sub.Out, sub.Rin))
	if err != nil {
		t.Fatal(err)
	}
	var gotOut, gotIn []string
	for _, f := range frames {
		if f.Input {
			if f.Type != frame.Stdin {
				t.Errorf("input frame %d typed %v", f.Seq, f.Type)
			}
			gotIn = append(gotIn, string(f.Payload))
		} else {
			gotOut = append(gotOut, string(f.Payload))
		}
		if f.Time.IsZero() || f.Stream == 0 {
			t.Errorf("frame %+v without its time or stream sequence", f)
		}
	}
	if fmt.Sprint(gotOut) != "[o1 o2 o3 o4 o5]" || fmt.Sprint(gotIn) != "[i1 i2 i3]" {
		t.Errorf("output %v, input %v", gotOut, gotIn)
	}
	if stats != (Stats{Malformed: 1, Duplicates: 1}) {
		t.Errorf("stats = %+v", stats)
	}
}
