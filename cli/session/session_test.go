package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/cli/session/sessiontest"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func TestMain(m *testing.M) {
	probeFirst = 200 * time.Millisecond
	probeMax = time.Second
	gapTimeout = 2 * time.Second
	os.Exit(m.Run())
}

func startServer(t testing.TB) string { return sessiontest.StartServer(t) }

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type fixture struct {
	nc    *nats.Conn // the client's
	agent *sessiontest.Agent
	start api.StartSessionResponse
}

func setup(t *testing.T, window int) *fixture {
	t.Helper()
	url := startServer(t)
	nc, anc := connect(t, url), connect(t, url)
	s := subjects.ForSession("web-1", "alice", "alice-0123456789")
	start := api.StartSessionResponse{
		Session:  api.Session{ID: "alice-0123456789", Owner: "alice", Target: "web-1"},
		Subjects: api.Subjects{In: s.In, Out: s.Out, Ctl: s.Ctl},
		Window:   window,
	}
	a, err := sessiontest.NewAgent(anc, start.Subjects, window)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		if err := a.Err(); err != nil {
			t.Errorf("agent saw protocol errors: %v", err)
		}
	})
	return &fixture{nc: nc, agent: a, start: start}
}

type result struct {
	code int
	err  error
}

func (f *fixture) run(ctx context.Context, opts Options) <-chan result {
	ch := make(chan result, 1)
	go func() {
		code, err := Run(ctx, f.nc, f.start, opts)
		ch <- result{code, err}
	}()
	return ch
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wait(t *testing.T, ctx context.Context, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatal("Run did not return")
		return result{}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNonInteractive(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var stdout, stderr bytes.Buffer
	done := f.run(ctx, Options{Stdin: strings.NewReader("input data"), Stdout: &stdout, Stderr: &stderr})

	first, err := f.agent.WaitAttach(ctx)
	must(t, err)
	if first.Type != frame.Keepalive || first.Seq != 1 {
		t.Fatalf("first frame = %s seq %d, want keepalive seq 1", first.Type, first.Seq)
	}
	in, err := f.agent.Stdin(ctx)
	must(t, err)
	if got, want := string(in), "input data"; got != want {
		t.Errorf("stdin = %q, want %q", got, want)
	}
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("hello ")))
	must(t, f.agent.Send(ctx, frame.Stderr, []byte("oops")))
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("world")))
	must(t, f.agent.Send(ctx, frame.Resize, frame.EncodeSize(frame.Size{Cols: 1, Rows: 1})))
	must(t, f.agent.Exit(ctx, 3, "exit"))

	r := wait(t, ctx, done)
	if r.err != nil || r.code != 3 {
		t.Fatalf("Run = %d, %v; want 3, nil", r.code, r.err)
	}
	if got, want := stdout.String(), "hello world"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := stderr.String(), "oops"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestNoStdin(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var stdout bytes.Buffer
	var exit frame.ExitStatus
	done := f.run(ctx, Options{Stdin: strings.NewReader("never read"), NoStdin: true, Stdout: &stdout,
		OnExit: func(s frame.ExitStatus) { exit = s }})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	next, err := f.agent.Next(ctx)
	must(t, err)
	if next.Type != frame.Close {
		t.Fatalf("frame after attach = %s, want close", next.Type)
	}
	must(t, f.agent.Send(ctx, frame.Error, []byte("no such command")))
	must(t, f.agent.Exit(ctx, 300, "terminated by bob"))
	r := wait(t, ctx, done)
	if r.err != nil || r.code != 300 {
		t.Fatalf("Run = %d, %v; want 300, nil", r.code, r.err)
	}
	if got, want := stdout.String(), "no such command\n"; got != want {
		t.Errorf("output = %q, want %q (Error frame printed, Stderr defaults to Stdout)", got, want)
	}
	if exit.Reason != "terminated by bob" {
		t.Errorf("OnExit got %+v", exit)
	}
}

func TestInteractiveResize(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	resize := make(chan frame.Size)
	stdin, stdinW := io.Pipe()
	defer stdinW.Close()
	var stdout bytes.Buffer
	done := f.run(ctx, Options{Interactive: true, Cols: 100, Rows: 30, Resize: resize, Stdin: stdin, Stdout: &stdout})

	first, err := f.agent.WaitAttach(ctx)
	must(t, err)
	if first.Type != frame.Resize {
		t.Fatalf("first frame = %s, want resize", first.Type)
	}
	if sz, err := frame.DecodeSize(first.Payload); err != nil || sz != (frame.Size{Cols: 100, Rows: 30}) {
		t.Fatalf("attach size = %+v, %v", sz, err)
	}
	resize <- frame.Size{Cols: 120, Rows: 40}
	next, err := f.agent.Next(ctx)
	must(t, err)
	if sz, _ := frame.DecodeSize(next.Payload); next.Type != frame.Resize || sz != (frame.Size{Cols: 120, Rows: 40}) {
		t.Fatalf("frame = %s %+v, want resize 120x40", next.Type, sz)
	}
	if _, err := stdinW.Write([]byte("ls\x03")); err != nil {
		t.Fatal(err)
	}
	next, err = f.agent.Next(ctx)
	must(t, err)
	if next.Type != frame.Stdin || string(next.Payload) != "ls\x03" {
		t.Fatalf("frame = %s %q, want stdin \"ls\\x03\"", next.Type, next.Payload)
	}
	stdinW.Close() // EOF on an interactive session's stdin does not close the process's stdin
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("$ ")))
	must(t, f.agent.Exit(ctx, 0, "exit"))
	r := wait(t, ctx, done)
	if r.err != nil || r.code != 0 {
		t.Fatalf("Run = %d, %v", r.code, r.err)
	}
	must(t, f.nc.Flush())
	drainCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	for {
		fr, err := f.agent.Next(drainCtx)
		if err != nil {
			break
		}
		if fr.Type == frame.Close {
			t.Fatal("interactive session sent Close at stdin EOF")
		}
	}
}

func TestInterruptForwarded(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	intr := make(chan os.Signal, 1)
	done := f.run(ctx, Options{NoStdin: true, Interrupt: intr, Stdout: io.Discard})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	intr <- os.Interrupt
	for {
		fr, err := f.agent.Next(ctx)
		must(t, err)
		if fr.Type == frame.Signal {
			if string(fr.Payload) != "INT" {
				t.Fatalf("signal = %q, want INT", fr.Payload)
			}
			break
		}
	}
	must(t, f.agent.Exit(ctx, -1, "signal: interrupt"))
	if r := wait(t, ctx, done); r.err != nil || r.code != -1 {
		t.Fatalf("Run = %d, %v; want -1", r.code, r.err)
	}
}

func TestGapRepair(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var calls atomic.Int32
	fetch := func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
		if calls.Add(1) == 1 {
			return nil, nil // not in the transcript yet: the client must retry
		}
		if after != 2 {
			t.Errorf("Fetch after %d, want 2", after)
		}
		return f.agent.Fetch(ctx, after, max)
	}
	var stdout bytes.Buffer
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout, Fetch: fetch})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	f.agent.Drop(3)
	for _, s := range []string{"1", "2", "3", "4", "5"} {
		must(t, f.agent.Send(ctx, frame.Stdout, []byte(s)))
	}
	must(t, f.agent.Exit(ctx, 0, "exit"))
	if r := wait(t, ctx, done); r.err != nil || r.code != 0 {
		t.Fatalf("Run = %d, %v", r.code, r.err)
	}
	if got, want := stdout.String(), "12345"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if calls.Load() < 2 {
		t.Errorf("Fetch called %d times, want at least 2", calls.Load())
	}
}

func TestGapNeverRepaired(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	fetch := func(context.Context, uint64, int) ([]api.TranscriptFrame, error) { return nil, nil }
	done := f.run(ctx, Options{NoStdin: true, Stdout: io.Discard, Fetch: fetch})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	f.agent.Drop(1)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("a")))
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("b")))
	r := wait(t, ctx, done)
	if r.err == nil || !strings.Contains(r.err.Error(), "output frames 1 to 1 are missing") {
		t.Fatalf("Run = %d, %v; want a missing-frames error", r.code, r.err)
	}
}

func TestLostExitFoundByProbe(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var stdout bytes.Buffer
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout, Fetch: f.agent.Fetch})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	f.agent.Drop(2)
	f.agent.Drop(3)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("a")))
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("b")))
	must(t, f.agent.Exit(ctx, 7, "exit"))
	if r := wait(t, ctx, done); r.err != nil || r.code != 7 {
		t.Fatalf("Run = %d, %v; want 7", r.code, r.err)
	}
	if got := stdout.String(); got != "ab" {
		t.Errorf("stdout = %q, want \"ab\"", got)
	}
}

func TestDuplicatesAndMalformedDropped(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var stdout bytes.Buffer
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout, Fetch: f.agent.Fetch})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("1")))
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("2")))
	must(t, f.agent.Resend(1))
	must(t, f.agent.Resend(2))
	must(t, f.nc.Publish(f.start.Subjects.Out, []byte("garbage")))
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("3")))
	must(t, f.agent.Resend(3))
	must(t, f.agent.Exit(ctx, 0, "exit"))
	if r := wait(t, ctx, done); r.err != nil || r.code != 0 {
		t.Fatalf("Run = %d, %v", r.code, r.err)
	}
	if got, want := stdout.String(), "123"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestWindowFrames(t *testing.T) {
	ctx := testContext(t)
	const window = 64 << 10
	f := setup(t, window)
	var stdout bytes.Buffer
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)

	// Far more than the window: the agent only gets through if the client reports.
	chunk := bytes.Repeat([]byte("x"), frame.ChunkSize)
	const chunks = 32
	for range chunks {
		must(t, f.agent.Send(ctx, frame.Stdout, chunk))
	}
	// Less than a quarter window: reported only when output goes idle.
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("tail")))
	total := uint64(chunks*frame.ChunkSize + 4)
	polltest.Until(t, 10*time.Second, fmt.Sprintf("window reports reaching %d", total), func() bool {
		r := f.agent.WindowReports()
		return len(r) > 0 && r[len(r)-1] == total
	})
	reports := f.agent.WindowReports()
	for i := 1; i < len(reports); i++ {
		if reports[i] <= reports[i-1] {
			t.Fatalf("window reports not increasing: %v", reports)
		}
	}
	if len(reports) < chunks { // each chunk is more than a quarter window
		t.Errorf("%d window reports, want at least %d", len(reports), chunks)
	}
	must(t, f.agent.Exit(ctx, 0, "exit"))
	if r := wait(t, ctx, done); r.err != nil {
		t.Fatal(r.err)
	}
	if stdout.Len() != int(total) {
		t.Errorf("got %d bytes, want %d", stdout.Len(), total)
	}
}

func TestStdinCreditWindow(t *testing.T) {
	ctx := testContext(t)
	const window = 64 << 10
	f := setup(t, window)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, 16 windows
	done := f.run(ctx, Options{Stdin: bytes.NewReader(data), Stdout: io.Discard})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	got, err := f.agent.Stdin(ctx)
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatalf("agent got %d stdin bytes, want %d", len(got), len(data))
	}
	must(t, f.agent.Exit(ctx, 0, "exit"))
	if r := wait(t, ctx, done); r.err != nil {
		t.Fatal(r.err)
	}
}

func TestContextCancel(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	rctx, cancel := context.WithCancel(ctx)
	done := f.run(rctx, Options{NoStdin: true, Stdout: io.Discard})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	cancel()
	if r := wait(t, ctx, done); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Run = %d, %v; want context.Canceled", r.code, r.err)
	}
}

func TestConnectionClosed(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	done := f.run(ctx, Options{NoStdin: true, Stdout: io.Discard})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	f.nc.Close()
	if r := wait(t, ctx, done); !errors.Is(r.err, ErrConnClosed) {
		t.Fatalf("Run = %d, %v; want ErrConnClosed", r.code, r.err)
	}
}

func TestNoSubjects(t *testing.T) {
	if _, err := Run(context.Background(), nil, api.StartSessionResponse{}, Options{}); err == nil {
		t.Fatal("Run accepted a start response without subjects")
	}
}

// The broker's End frame ends the session at once, with its reason, after the output the
// record holds (here a frame lost live) is shown.
func TestEndFrame(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var stdout bytes.Buffer
	var status frame.ExitStatus
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout, Fetch: f.agent.Fetch, OnExit: func(s frame.ExitStatus) { status = s }})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	f.agent.Drop(2)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("a")))
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("b")))
	must(t, f.agent.End(-1, "agent_lost: no heartbeat from web-1"))
	if r := wait(t, ctx, done); r.err != nil || r.code != -1 {
		t.Fatalf("Run = %d, %v; want -1 and no error", r.code, r.err)
	}
	if stdout.String() != "ab" || status.Reason != "agent_lost: no heartbeat from web-1" {
		t.Fatalf("stdout %q, status %+v; want \"ab\" and the End frame's reason", stdout.String(), status)
	}
}

// An End frame the broker did not send (the session's agent forged it: it may publish on
// the output subject too) is ignored; the real one ends the session with the broker's
// status, not the frame's. A broker that cannot be asked leaves the frame believed.
func TestEndFrameConfirmedByTheBroker(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	var (
		mu     sync.Mutex
		broker = frame.ExitStatus{Code: -1, Reason: "terminated: by bob"}
		ended  bool
		asked  int
		asks   = make(chan struct{}, 8)
	)
	confirm := func(context.Context) (frame.ExitStatus, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		asks <- struct{}{}
		return broker, ended, nil
	}
	var stdout bytes.Buffer
	var status frame.ExitStatus
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout, Fetch: f.agent.Fetch, Ended: confirm,
		OnExit: func(s frame.ExitStatus) { status = s }})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("a")))
	must(t, f.agent.End(0, "terminated: by admin")) // forged
	// The client asks (a replica may lag), and the broker says the session runs.
	for range endChecks {
		select {
		case <-asks:
		case <-ctx.Done():
			t.Fatal("the client did not ask the broker about the End frame")
		}
	}
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("b")))
	mu.Lock()
	ended = true
	mu.Unlock()
	must(t, f.agent.End(0, "exit")) // the frame's status is not the broker's
	if r := wait(t, ctx, done); r.err != nil || r.code != -1 {
		t.Fatalf("Run = %d, %v; want -1 and no error", r.code, r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if stdout.String() != "ab" || status != broker || asked != endChecks+1 {
		t.Fatalf("stdout %q, status %+v, the broker asked %d times; want \"ab\", %+v, %d times", stdout.String(), status, asked, broker, endChecks+1)
	}

	// The broker cannot be asked: the End frame is believed.
	g := setup(t, 0)
	done = g.run(ctx, Options{NoStdin: true, Stdout: io.Discard, OnExit: func(s frame.ExitStatus) { status = s },
		Ended: func(context.Context) (frame.ExitStatus, bool, error) {
			return frame.ExitStatus{}, false, errors.New("no broker")
		}})
	_, err = g.agent.WaitAttach(ctx)
	must(t, err)
	must(t, g.agent.End(-1, "agent_lost"))
	if r := wait(t, ctx, done); r.err != nil || r.code != -1 || status.Reason != "agent_lost" {
		t.Fatalf("Run = %d, %v, status %+v; want the End frame's", r.code, r.err, status)
	}
}

// End frames without end (an agent forging them) make the client ask the broker at a
// paced rate: three at once, then one a second.
func TestForgedEndFramesPaced(t *testing.T) {
	defer func(d time.Duration) { endRecheck = d }(endRecheck)
	endRecheck = time.Millisecond // the pace is the limiter's, not the wait between asks
	ctx, cancel := context.WithCancel(testContext(t))
	f := setup(t, 0)
	asks := make(chan time.Time, 16)
	done := f.run(ctx, Options{NoStdin: true, Stdout: io.Discard, Ended: func(context.Context) (frame.ExitStatus, bool, error) {
		asks <- time.Now()
		return frame.ExitStatus{}, false, nil
	}})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	for range 5 {
		must(t, f.agent.End(0, "forged"))
	}
	var at []time.Time
	for range 5 {
		select {
		case a := <-asks:
			at = append(at, a)
		case <-ctx.Done():
			t.Fatalf("the client asked the broker %d times about 5 End frames", len(at))
		}
	}
	if d := at[4].Sub(at[0]); d < 1900*time.Millisecond {
		t.Fatalf("5 asks in %v; want them paced, at least 2 s for the last two", d)
	}
	select {
	case r := <-done:
		t.Fatalf("Run returned %d, %v on forged End frames", r.code, r.err)
	default:
	}
	cancel() // Run reads endRecheck until it returns
	<-done
}

// An Exit frame the live output lost, found in the record, wins over the End frame.
func TestEndFrameAfterLostExit(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	done := f.run(ctx, Options{NoStdin: true, Stdout: io.Discard, Fetch: f.agent.Fetch})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	f.agent.Drop(1)
	must(t, f.agent.Exit(ctx, 7, "exit"))
	must(t, f.agent.End(7, "exit"))
	if r := wait(t, ctx, done); r.err != nil || r.code != 7 {
		t.Fatalf("Run = %d, %v; want 7", r.code, r.err)
	}
}

// A reader of the output that went away: the agent is told (Signal PIPE) and Run says so.
func TestBrokenPipe(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	done := f.run(ctx, Options{NoStdin: true, Stdout: brokenWriter{}})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("a")))
	if r := wait(t, ctx, done); !errors.Is(r.err, ErrBrokenPipe) {
		t.Fatalf("Run = %d, %v; want ErrBrokenPipe", r.code, r.err)
	}
	for {
		in, err := f.agent.Next(ctx)
		must(t, err)
		if in.Type == frame.Signal {
			if string(in.Payload) != frame.SignalPipe {
				t.Fatalf("signal %q, want %q", in.Payload, frame.SignalPipe)
			}
			return
		}
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// A resumed client shows only the output after After, and rebases the agent's count.
func TestResumeAfter(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	for _, p := range []string{"old1", "old2"} {
		must(t, f.agent.Send(ctx, frame.Stdout, []byte(p)))
	}
	var stdout bytes.Buffer
	done := f.run(ctx, Options{NoStdin: true, Stdout: &stdout, Fetch: f.agent.Fetch, After: 1, Resume: true})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	must(t, f.agent.Send(ctx, frame.Stdout, []byte("new")))
	must(t, f.agent.Exit(ctx, 0, "exit"))
	if r := wait(t, ctx, done); r.err != nil || r.code != 0 {
		t.Fatalf("Run = %d, %v", r.code, r.err)
	}
	if stdout.String() != "old2new" || f.agent.Rebases() != 1 {
		t.Fatalf("stdout %q after frame 1, %d rebases; want \"old2new\" and 1", stdout.String(), f.agent.Rebases())
	}
}

// An idle client sends keepalives, so the agent knows it is still there.
func TestKeepalives(t *testing.T) {
	ctx := testContext(t)
	f := setup(t, 0)
	defer func(k time.Duration) { keepalive = k }(keepalive)
	keepalive = 100 * time.Millisecond
	done := f.run(ctx, Options{NoStdin: true, Stdout: io.Discard, ResumeWindow: 400 * time.Millisecond})
	_, err := f.agent.WaitAttach(ctx)
	must(t, err)
	for range 3 {
		in, err := f.agent.Next(ctx)
		must(t, err)
		if in.Type != frame.Keepalive && in.Type != frame.Close {
			t.Fatalf("idle client sent %s, want keepalives", in.Type)
		}
	}
	must(t, f.agent.Exit(ctx, 0, "exit"))
	wait(t, ctx, done)
}

// The connection lost for the whole resume window: Run says "reconnecting…", then gives
// up with ErrLost, saying where the output got to.
func TestLostForTheResumeWindow(t *testing.T) {
	ctx := testContext(t)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	must(t, err)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	must(t, err)
	t.Cleanup(nc.Close)
	anc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	t.Cleanup(anc.Close)
	subj := subjects.ForSession("web-1", "alice", "alice-0123456789")
	start := api.StartSessionResponse{Session: api.Session{ID: "alice-0123456789"}, Subjects: api.Subjects{In: subj.In, Out: subj.Out, Ctl: subj.Ctl}}
	a, err := sessiontest.NewAgent(anc, start.Subjects, 0)
	must(t, err)
	t.Cleanup(a.Close)

	var stdout, stderr syncBuffer
	done := make(chan result, 1)
	go func() {
		code, err := Run(ctx, nc, start, Options{NoStdin: true, Stdout: &stdout, Stderr: &stderr, ResumeWindow: 300 * time.Millisecond})
		done <- result{code, err}
	}()
	_, err = a.WaitAttach(ctx)
	must(t, err)
	must(t, a.Send(ctx, frame.Stdout, []byte("shown")))
	must(t, polltest.Wait(10*time.Second, func() error {
		if stdout.String() != "shown" {
			return errors.New("output not shown yet")
		}
		return nil
	}))
	srv.Shutdown()
	r := wait(t, ctx, done)
	var d *DetachedError
	if !errors.Is(r.err, ErrLost) || !errors.As(r.err, &d) || d.Last != 1 {
		t.Fatalf("Run = %d, %v; want ErrLost after frame 1", r.code, r.err)
	}
	if !strings.Contains(stderr.String(), "reconnecting") {
		t.Fatalf("stderr %q does not say it is reconnecting", stderr.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
