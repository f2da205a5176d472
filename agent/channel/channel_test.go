package channel

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/tetherhq/tether/streams/natstest"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T) *nats.Conn {
	t.Helper()
	return natstest.Connect(t, nil)
}

// connectJS connects to a server with JetStream and a transcript stream capturing the
// test's out and rin subjects.
func connectJS(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := natstest.Connect(t, &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: "T", Subjects: []string{subj.Out, subj.Rin}, Duplicates: time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

var subj = api.Subjects{In: "t.in", Out: "t.out", Ctl: "t.ctl", Rin: "t.rin"}

// fakeJS records published frames. fail decides, per attempt, whether the publish call
// (refuse) or its acknowledgement (nack) fails.
type fakeJS struct {
	mu       sync.Mutex
	attempts map[string]int
	stored   map[string][]byte
	order    []string
	refuse   func(id string, attempt int) bool
	nack     func(id string, attempt int) bool
}

func newFakeJS() *fakeJS {
	return &fakeJS{attempts: map[string]int{}, stored: map[string][]byte{}}
}

type future struct {
	ok  chan *jetstream.PubAck
	err chan error
	msg *nats.Msg
}

func (f *future) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *future) Err() <-chan error            { return f.err }
func (f *future) Msg() *nats.Msg               { return f.msg }

// PublishMsgAsync keys frames by their subject and sequence number, and keeps a frame
// published again once.
func (j *fakeJS) PublishMsgAsync(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f, err := frame.Decode(m.Data)
	if err != nil {
		return nil, err
	}
	id := frameKey(m.Subject == subj.Rin, f.Seq)
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.attempts[id]
	j.attempts[id] = n + 1
	if j.refuse != nil && j.refuse(id, n) {
		return nil, jetstream.ErrTooManyStalledMsgs
	}
	fut := &future{ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1), msg: m}
	if j.nack != nil && j.nack(id, n) {
		fut.err <- nats.ErrDisconnected
		return fut, nil
	}
	if _, dup := j.stored[id]; !dup {
		j.stored[id] = bytes.Clone(m.Data)
		j.order = append(j.order, id)
	}
	fut.ok <- &jetstream.PubAck{Stream: "T"}
	return fut, nil
}

// proc is a fake process that records its input.
type proc struct {
	mu      sync.Mutex
	stdin   bytes.Buffer
	closed  bool
	sizes   []frame.Size
	signals []string
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdin.Write(b)
}

func (p *proc) CloseStdin() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *proc) Resize(c, r uint16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes = append(p.sizes, frame.Size{Cols: c, Rows: r})
	return nil
}

func (p *proc) Signal(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name != "INT" {
		return errors.New("unsupported")
	}
	p.signals = append(p.signals, name)
	return nil
}

func open(t *testing.T, nc *nats.Conn, js Publisher, window int) *Channel {
	t.Helper()
	c, err := Open(Config{Conn: nc, JS: js, SessionID: "s1", Subjects: subj, Window: window, RecordTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: a test that failed with the window full must not hang here.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Finish(ctx, frame.ExitStatus{})
	})
	return c
}

func send(t *testing.T, nc *nats.Conn, seq uint64, typ frame.Type, payload []byte) {
	t.Helper()
	if err := nc.Publish(subj.In, frame.Encode(frame.Frame{Type: typ, Seq: seq, Payload: payload})); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	polltest.Until(t, 10*time.Second, what, cond)
}

func TestInput(t *testing.T) {
	nc := connect(t)
	ctl, err := nc.SubscribeSync(subj.Ctl)
	if err != nil {
		t.Fatal(err)
	}
	c := open(t, nc, newFakeJS(), 1024)
	p := &proc{}

	// Malformed frames neither crash nor attach.
	for _, bad := range [][]byte{nil, []byte("x"), make([]byte, frame.HeaderLen), append([]byte{frame.Version, 99}, make([]byte, 14)...)} {
		if err := nc.Publish(subj.In, bad); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Attached():
		t.Fatal("attached by a malformed frame")
	default:
	}
	send(t, nc, 1, frame.Stdin, []byte("hello "))
	<-c.Attached()
	send(t, nc, 2, frame.Resize, []byte{1, 2, 3}) // malformed payload: dropped
	send(t, nc, 3, frame.Resize, frame.EncodeSize(frame.Size{Cols: 10, Rows: 5}))
	send(t, nc, 4, frame.Signal, []byte("INT"))
	send(t, nc, 5, frame.Signal, []byte("NOPE"))
	send(t, nc, 6, frame.Stdin, bytes.Repeat([]byte("x"), 300))
	send(t, nc, 7, frame.Close, nil)
	send(t, nc, 8, frame.Stdin, []byte("after close"))
	c.Bind(p)
	waitFor(t, "input delivered", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.closed
	})
	p.mu.Lock()
	if got := p.stdin.String(); got != "hello "+string(bytes.Repeat([]byte("x"), 300)) {
		t.Errorf("stdin = %q", got)
	}
	if len(p.sizes) != 1 || p.sizes[0] != (frame.Size{Cols: 10, Rows: 5}) || len(p.signals) != 1 {
		t.Errorf("sizes %v signals %v", p.sizes, p.signals)
	}
	p.mu.Unlock()

	// 306 bytes consumed with a 1024-byte window: one report at 256, one when idle.
	var last uint64
	for seq := uint64(1); last < 306; seq++ {
		m, err := ctl.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("window report: %v", err)
		}
		f, err := frame.Decode(m.Data)
		if err != nil || f.Type != frame.Window || f.Seq != seq {
			t.Fatalf("ctl frame %+v, %v; want window seq %d", f, err, seq)
		}
		last, _ = frame.DecodeWindow(f.Payload)
	}
	if last != 306 {
		t.Errorf("reported %d consumed, want 306", last)
	}
}

func TestOutputAndExit(t *testing.T) {
	nc := connect(t)
	js := newFakeJS()
	// Every frame is refused once and nacked once before it is stored.
	js.refuse = func(_ string, n int) bool { return n == 0 }
	js.nack = func(_ string, n int) bool { return n == 1 }
	c := open(t, nc, js, 0)
	send(t, nc, 1, frame.Keepalive, nil)
	<-c.Attached()
	r, w := io.Pipe()
	c.SendResize(frame.Size{Cols: 80, Rows: 24})
	c.Bind(&proc{}, Output{Type: frame.Stdout, R: r})
	data := bytes.Repeat([]byte("0123456789"), 10000)
	go func() {
		for b := data; len(b) > 0; b = b[min(len(b), 1000):] {
			w.Write(b[:min(len(b), 1000)])
		}
		w.Close()
	}()
	c.Drain(time.Second)
	st := c.Finish(context.Background(), frame.ExitStatus{Code: 3, Reason: "exit"})
	if st.Err != nil || st.Bytes != uint64(len(data)) {
		t.Fatalf("stats %+v", st)
	}
	js.mu.Lock()
	defer js.mu.Unlock()
	if uint64(len(js.order)) != st.Frames {
		t.Fatalf("stored %d frames, stats say %d", len(js.order), st.Frames)
	}
	var out []byte
	for i, id := range js.order {
		f, _ := frame.Decode(js.stored[id])
		if f.Seq != uint64(i+1) {
			t.Fatalf("frame %d has seq %d", i+1, f.Seq)
		}
		switch {
		case i == 0 && f.Type != frame.Resize:
			t.Fatalf("first frame %v", f.Type)
		case i == len(js.order)-1:
			if e, _ := frame.DecodeExit(f.Payload); f.Type != frame.Exit || e.Code != 3 {
				t.Fatalf("last frame %v %+v", f.Type, e)
			}
		case i > 0:
			if f.Type != frame.Stdout || len(f.Payload) > frame.ChunkSize {
				t.Fatalf("frame %d: %v of %d bytes", i+1, f.Type, len(f.Payload))
			}
			out = append(out, f.Payload...)
		}
		if js.attempts[id] != 3 {
			t.Fatalf("frame %d published %d times, want 3", i+1, js.attempts[id])
		}
	}
	if !bytes.Equal(out, data) {
		t.Fatal("recorded output differs from the process's")
	}
}

func TestRecordingFails(t *testing.T) {
	nc := connect(t)
	js := newFakeJS()
	js.nack = func(string, int) bool { return true }
	c := open(t, nc, js, 0)
	c.SendError("boom")
	select {
	case <-c.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("recording failure not detected")
	}
	st := c.Finish(context.Background(), frame.ExitStatus{Code: -1, Reason: "recording_failed"})
	if st.Err == nil || st.Frames != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFlowBlocksReader(t *testing.T) {
	nc := connect(t)
	js := newFakeJS()
	c := open(t, nc, js, 4096)
	send(t, nc, 1, frame.Keepalive, nil)
	r, w := io.Pipe()
	c.Bind(&proc{}, Output{Type: frame.Stdout, R: r})
	written := make(chan int, 1)
	go func() {
		n := 0
		for n < 1<<20 {
			k, err := w.Write(make([]byte, 1024))
			n += k
			if err != nil {
				break
			}
		}
		written <- n
	}()
	stored := func() int {
		js.mu.Lock()
		defer js.mu.Unlock()
		return len(js.order)
	}
	waitFor(t, "first frames", func() bool { return stored() > 0 })
	// Without credit the writer is held back: the reader's buffers and the pipe fill up
	// and nothing more is published.
	waitFor(t, "reader blocked on the publisher", func() bool { return len(c.out.data[0]) == readAhead })
	// The window lets one coalesced chunk through when nothing is outstanding, so the
	// bound is the window plus a chunk, whatever the timing of the frames in flight.
	if got := c.win.Outstanding(); got > 4096+frame.ChunkSize {
		t.Fatalf("outstanding %d bytes (%d frames) without credit", got, stored())
	}
	select {
	case n := <-written:
		t.Fatalf("writer finished (%d bytes) without credit", n)
	default:
	}
	c.ReleaseWindow()
	if n := <-written; n != 1<<20 {
		t.Fatalf("wrote %d", n)
	}
	w.Close()
	c.Drain(time.Second)
	if st := c.Finish(context.Background(), frame.ExitStatus{}); st.Bytes != 1<<20 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWindowReportAfterRelease(t *testing.T) {
	nc := connect(t)
	js := newFakeJS()
	c := open(t, nc, js, 1024)
	r, w := io.Pipe()
	c.Bind(&proc{}, Output{Type: frame.Stdout, R: r})
	go func() { w.Write(make([]byte, 512)); w.Close() }()
	c.Drain(time.Second)
	waitFor(t, "output published", func() bool { return c.win.Outstanding() == 512 })
	c.ReleaseWindow()
	send(t, nc, 1, frame.Window, frame.EncodeWindow(512)) // must not panic
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := c.Finish(context.Background(), frame.ExitStatus{}); st.Bytes != 512 {
		t.Fatalf("stats %+v", st)
	}
}

func TestActivity(t *testing.T) {
	nc := connect(t)
	var n atomic.Int32
	c, err := Open(Config{Conn: nc, JS: newFakeJS(), SessionID: "s1", Subjects: subj, OnActivity: func() { n.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Finish(context.Background(), frame.ExitStatus{})
	p := &proc{}
	r, w := io.Pipe()
	c.Bind(p, Output{Type: frame.Stdout, R: r})
	// Only what a person does counts: not credit reports, keepalives or malformed frames.
	send(t, nc, 1, frame.Keepalive, nil)
	send(t, nc, 2, frame.Window, frame.EncodeWindow(0))
	send(t, nc, 3, frame.Resize, []byte{1})
	send(t, nc, 4, frame.Stdin, []byte("a"))
	send(t, nc, 5, frame.Resize, frame.EncodeSize(frame.Size{Cols: 1, Rows: 1}))
	send(t, nc, 6, frame.Signal, []byte("INT"))
	send(t, nc, 7, frame.Keepalive, nil)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "signal delivered", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.signals) == 1
	})
	if got := n.Load(); got != 3 {
		t.Fatalf("%d activities from input, want 3", got)
	}
	// Output does not count unless OutputActivity is set.
	if _, err := w.Write([]byte("out")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	c.Drain(time.Second)
	if got := n.Load(); got != 3 {
		t.Fatalf("%d activities after output, want 3", got)
	}
}

func TestOutputActivity(t *testing.T) {
	nc := connect(t)
	var n atomic.Int32
	c, err := Open(Config{Conn: nc, JS: newFakeJS(), SessionID: "s1", Subjects: subj, OnActivity: func() { n.Add(1) }, OutputActivity: true})
	if err != nil {
		t.Fatal(err)
	}
	r, w := io.Pipe()
	c.Bind(&proc{}, Output{Type: frame.Stdout, R: r})
	for range 3 {
		if _, err := w.Write([]byte("out")); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	c.Drain(time.Second)
	c.Finish(context.Background(), frame.ExitStatus{})
	if got := n.Load(); got != 3 {
		t.Fatalf("%d activities from 3 reads of output, want 3", got)
	}
}

func TestPreface(t *testing.T) {
	nc := connect(t)
	ctl, err := nc.SubscribeSync(subj.Ctl)
	if err != nil {
		t.Fatal(err)
	}
	preface := "export A=1\ncd /tmp\n"
	c, err := Open(Config{Conn: nc, JS: newFakeJS(), SessionID: "s1", Subjects: subj, Window: 1024, Preface: []byte(preface)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Finish(context.Background(), frame.ExitStatus{})
	// The client types before the process is bound: its input still comes after the preface.
	client := bytes.Repeat([]byte("x"), 300)
	send(t, nc, 1, frame.Stdin, client)
	<-c.Attached()
	p := &proc{}
	c.Bind(p)
	want := preface + string(client)
	waitFor(t, "input delivered", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stdin.Len() == len(want)
	})
	p.mu.Lock()
	got := p.stdin.String()
	p.mu.Unlock()
	if got != want {
		t.Fatalf("stdin = %q, want %q", got, want)
	}
	// The client's credit counts its own bytes only.
	m, err := ctl.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := frame.Decode(m.Data)
	if n, _ := frame.DecodeWindow(f.Payload); n != 300 {
		t.Fatalf("window report %d, want 300", n)
	}
}

// streamed returns the frames the stream holds on subject, in order, with their message ids
// (which the channel never sets: see record.go).
func streamed(t *testing.T, js jetstream.JetStream, subject string) (frames []frame.Frame, ids []string) {
	t.Helper()
	st, err := js.Stream(t.Context(), "T")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	n := info.State.Subjects[subject]
	if n == 0 {
		return nil, nil
	}
	cons, err := js.OrderedConsumer(t.Context(), "T", jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	for uint64(len(frames)) < n {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("frame %d of %d on %s: %v", len(frames)+1, n, subject, err)
		}
		f, err := frame.Decode(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
		ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
	}
	return frames, ids
}

func TestRecordInput(t *testing.T) {
	nc, js := connectJS(t)
	ctl, err := nc.SubscribeSync(subj.Ctl)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(Config{Conn: nc, JS: js, SessionID: "s1", Subjects: subj, Window: 1024, RecordInput: true,
		Preface: []byte("not recorded\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Finish(context.Background(), frame.ExitStatus{})
	typed := []string{"l", "s", "\n", strings.Repeat("x", 300), "after"}
	for i, s := range typed {
		send(t, nc, uint64(i+1), frame.Stdin, []byte(s))
	}
	send(t, nc, 6, frame.Stdin, nil) // nothing to record
	send(t, nc, 7, frame.Resize, frame.EncodeSize(frame.Size{Cols: 1, Rows: 1}))
	<-c.Attached()
	p := &proc{}
	c.Bind(p)
	want := strings.Join(typed, "")
	waitFor(t, "input delivered", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stdin.Len() == len("not recorded\n")+len(want)
	})
	// Credit comes back once the bytes are both written and recorded.
	m, err := ctl.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := frame.Decode(m.Data)
	if n, _ := frame.DecodeWindow(f.Payload); n < 256 || n > uint64(len(want)) {
		t.Fatalf("window report %d", n)
	}
	send(t, nc, 8, frame.Close, nil)
	send(t, nc, 9, frame.Stdin, []byte("after close")) // not given to the process: not recorded
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stdin closed", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.closed
	})
	st := c.Finish(context.Background(), frame.ExitStatus{})
	if st.Err != nil || st.InputFrames != uint64(len(typed)) || st.InputBytes != uint64(len(want)) {
		t.Fatalf("stats %+v, want %d input frames of %d bytes", st, len(typed), len(want))
	}
	// Recorded input takes no output credit.
	if got := c.win.Outstanding(); got != 0 {
		t.Fatalf("%d bytes of output credit outstanding", got)
	}
	frames, ids := streamed(t, js, subj.Rin)
	if len(frames) != len(typed) {
		t.Fatalf("%d frames on %s, want %d", len(frames), subj.Rin, len(typed))
	}
	for i, f := range frames {
		if f.Type != frame.Stdin || f.Seq != uint64(i+1) || string(f.Payload) != typed[i] || ids[i] != "" {
			t.Errorf("recorded %d: %v seq %d %q id %q; want stdin seq %d %q", i+1, f.Type, f.Seq, f.Payload, ids[i], i+1, typed[i])
		}
	}
	// The output is numbered apart: the Resize echo, then Exit.
	out, ids := streamed(t, js, subj.Out)
	if len(out) != 2 || out[0].Seq != 1 || out[0].Type != frame.Resize || ids[0] != "" || out[1].Type != frame.Exit {
		t.Fatalf("output frames %+v ids %v", out, ids)
	}
}

func TestInputNotRecorded(t *testing.T) {
	nc, js := connectJS(t)
	c, err := Open(Config{Conn: nc, JS: js, SessionID: "s1", Subjects: subj})
	if err != nil {
		t.Fatal(err)
	}
	send(t, nc, 1, frame.Stdin, []byte("secret\n"))
	p := &proc{}
	c.Bind(p)
	waitFor(t, "input delivered", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stdin.Len() == len("secret\n")
	})
	if st := c.Finish(context.Background(), frame.ExitStatus{}); st.Err != nil || st.InputFrames != 0 {
		t.Fatalf("stats %+v", st)
	}
	if frames, _ := streamed(t, js, subj.Rin); len(frames) != 0 {
		t.Fatalf("%d frames recorded on %s", len(frames), subj.Rin)
	}
	if out, _ := streamed(t, js, subj.Out); len(out) != 1 || out[0].Type != frame.Exit {
		t.Fatalf("output frames %+v", out)
	}
}

func TestRecordInputRequiresSubject(t *testing.T) {
	nc := connect(t)
	s := subj
	s.Rin = ""
	if _, err := Open(Config{Conn: nc, JS: newFakeJS(), SessionID: "s1", Subjects: s, RecordInput: true}); err == nil {
		t.Fatal("opened a channel recording input without a rin subject")
	}
}

func TestRecordInputRetried(t *testing.T) {
	nc := connect(t)
	js := newFakeJS()
	// Every input frame is refused once and nacked once before it is stored.
	input := func(id string) bool { return strings.HasPrefix(id, "s1/i") }
	js.refuse = func(id string, n int) bool { return input(id) && n == 0 }
	js.nack = func(id string, n int) bool { return input(id) && n == 1 }
	c, err := Open(Config{Conn: nc, JS: js, SessionID: "s1", Subjects: subj, RecordInput: true, RecordTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.Bind(&proc{})
	for i, s := range []string{"a", "b", "c"} {
		send(t, nc, uint64(i+1), frame.Stdin, []byte(s))
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "input recorded", func() bool {
		js.mu.Lock()
		defer js.mu.Unlock()
		_, ok := js.stored[frameKey(true, 3)]
		return ok
	})
	if st := c.Finish(context.Background(), frame.ExitStatus{}); st.Err != nil || st.InputFrames != 3 {
		t.Fatalf("stats %+v", st)
	}
	js.mu.Lock()
	defer js.mu.Unlock()
	var got []byte
	for _, id := range js.order {
		if !input(id) {
			continue
		}
		f, _ := frame.Decode(js.stored[id])
		got = append(got, f.Payload...)
		if js.attempts[id] != 3 {
			t.Errorf("%s published %d times, want 3", id, js.attempts[id])
		}
	}
	if string(got) != "abc" {
		t.Fatalf("recorded %q", got)
	}
}

func TestRecordInputFails(t *testing.T) {
	nc := connect(t)
	js := newFakeJS()
	js.nack = func(id string, _ int) bool { return strings.HasPrefix(id, "s1/i") }
	c, err := Open(Config{Conn: nc, JS: js, SessionID: "s1", Subjects: subj, RecordInput: true, RecordTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.Bind(&proc{})
	send(t, nc, 1, frame.Stdin, []byte("ls\n"))
	select {
	case <-c.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("failure to record input not detected")
	}
	if st := c.Finish(context.Background(), frame.ExitStatus{Code: -1, Reason: "recording_failed"}); st.Err == nil || !strings.Contains(st.Err.Error(), "input frame 1") {
		t.Fatalf("stats %+v", st)
	}
}

// frameKey names a frame in fakeJS: "s1/<seq>" for output, "s1/i<seq>" for recorded input.
func frameKey(input bool, seq uint64) string {
	if input {
		return "s1/i" + strconv.FormatUint(seq, 10)
	}
	return "s1/" + strconv.FormatUint(seq, 10)
}
