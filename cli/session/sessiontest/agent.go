package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/flow"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// Agent plays the agent's part of one session: it reads frames on In, checks their
// sequence numbers, acknowledges stdin with Window frames on Ctl, and sends output frames
// on Out under the client's credit window.
type Agent struct {
	nc    *nats.Conn
	subj  api.Subjects
	win   *flow.Window
	acker *flow.Acker
	sub   *nats.Subscription
	in    chan frame.Frame

	mu       sync.Mutex
	inSeq    uint64
	errs     []error
	windows  []uint64
	rebases  int
	outSeq   uint64
	record   []api.TranscriptFrame
	drop     map[uint64]bool
	attached chan struct{}
	once     sync.Once
}

// NewAgent starts serving the session's In subject. window is the output credit window
// (0 for frame.DefaultWindow).
func NewAgent(nc *nats.Conn, subj api.Subjects, window int) (*Agent, error) {
	if window <= 0 {
		window = frame.DefaultWindow
	}
	a := &Agent{
		nc: nc, subj: subj,
		win:      flow.NewWindow(window),
		acker:    flow.NewAcker(window),
		in:       make(chan frame.Frame, 1024),
		drop:     map[uint64]bool{},
		attached: make(chan struct{}),
	}
	sub, err := nc.Subscribe(subj.In, a.onIn)
	if err != nil {
		return nil, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	a.sub = sub
	return a, nil
}

// Close stops reading In.
func (a *Agent) Close() {
	_ = a.sub.Unsubscribe()
	a.win.Close()
}

func (a *Agent) onIn(m *nats.Msg) {
	f, err := frame.Decode(m.Data)
	a.mu.Lock()
	if err != nil {
		a.errs = append(a.errs, fmt.Errorf("malformed input frame: %w", err))
		a.mu.Unlock()
		return
	}
	if f.Seq != a.inSeq+1 {
		a.errs = append(a.errs, fmt.Errorf("input frame %s has seq %d, want %d", f.Type, f.Seq, a.inSeq+1))
	}
	a.inSeq = f.Seq
	first := f.Seq == 1
	if f.Type == frame.Window {
		n, err := frame.DecodeWindow(f.Payload)
		if err != nil {
			a.errs = append(a.errs, err)
		} else {
			a.windows = append(a.windows, n)
		}
		rebase := err == nil && f.Flags&frame.FlagRebase != 0
		if rebase {
			a.rebases++
		}
		a.mu.Unlock()
		switch {
		case rebase:
			a.win.Rebase(n)
		case err == nil:
			a.win.Ack(n)
		}
		return
	}
	a.mu.Unlock()
	if first {
		a.once.Do(func() { close(a.attached) })
	}
	select {
	case a.in <- f:
	default:
		a.mu.Lock()
		a.errs = append(a.errs, errors.New("sessiontest: input queue full"))
		a.mu.Unlock()
	}
}

// WaitAttach waits for the client's first frame and returns it.
func (a *Agent) WaitAttach(ctx context.Context) (frame.Frame, error) {
	select {
	case <-a.attached:
	case <-ctx.Done():
		return frame.Frame{}, fmt.Errorf("wait for attach: %w", ctx.Err())
	}
	return a.Next(ctx)
}

// Next returns the next frame the client sent on In, other than Window frames (which
// the agent applies to its credit window). Stdin frames are acknowledged on Ctl.
func (a *Agent) Next(ctx context.Context) (frame.Frame, error) {
	select {
	case f := <-a.in:
		if f.Type == frame.Stdin {
			total, _ := a.acker.Consumed(len(f.Payload))
			if err := a.publish(a.subj.Ctl, frame.Frame{Type: frame.Window, Payload: frame.EncodeWindow(total)}); err != nil {
				return f, err
			}
		}
		return f, nil
	case <-ctx.Done():
		return frame.Frame{}, fmt.Errorf("wait for input frame: %w", ctx.Err())
	}
}

// Stdin reads Stdin frames until a Close frame and returns their bytes. Other frames
// are skipped.
func (a *Agent) Stdin(ctx context.Context) ([]byte, error) {
	var b []byte
	for {
		f, err := a.Next(ctx)
		if err != nil {
			return b, err
		}
		switch f.Type {
		case frame.Stdin:
			b = append(b, f.Payload...)
		case frame.Close:
			return b, nil
		}
	}
}

// Drop makes the agent record frame seq in the transcript without publishing it live.
func (a *Agent) Drop(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drop[seq] = true
}

// Send sends one output frame, waiting for credit if it is a data frame.
func (a *Agent) Send(ctx context.Context, t frame.Type, payload []byte) error {
	if t.IsData() {
		if err := a.win.Acquire(ctx, len(payload)); err != nil {
			return fmt.Errorf("wait for credit: %w", err)
		}
	}
	a.mu.Lock()
	a.outSeq++
	f := frame.Frame{Type: t, Seq: a.outSeq, Payload: payload}
	a.record = append(a.record, api.TranscriptFrame{Time: time.Now(), Frame: frame.Encode(f)})
	drop := a.drop[f.Seq]
	a.mu.Unlock()
	if drop {
		return nil
	}
	return a.publish(a.subj.Out, f)
}

// Resend publishes the already sent output frame seq again, as a duplicate.
func (a *Agent) Resend(seq uint64) error {
	a.mu.Lock()
	if seq == 0 || seq > uint64(len(a.record)) {
		a.mu.Unlock()
		return fmt.Errorf("no output frame %d", seq)
	}
	data := a.record[seq-1].Frame
	a.mu.Unlock()
	return a.nc.Publish(a.subj.Out, data)
}

// End publishes the broker's End frame, unnumbered, live only.
func (a *Agent) End(code int32, reason string) error {
	return a.publish(a.subj.Out, frame.Frame{Type: frame.End, Payload: frame.EncodeExit(frame.ExitStatus{Code: code, Reason: reason})})
}

// Rebases returns how many Window frames with FlagRebase the client sent.
func (a *Agent) Rebases() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rebases
}

// Exit sends the Exit frame.
func (a *Agent) Exit(ctx context.Context, code int32, reason string) error {
	return a.Send(ctx, frame.Exit, frame.EncodeExit(frame.ExitStatus{Code: code, Reason: reason}))
}

func (a *Agent) publish(subject string, f frame.Frame) error {
	return a.nc.Publish(subject, frame.Encode(f))
}

// Fetch returns up to max recorded output frames after seq after; it has the signature
// of session.Options.Fetch.
func (a *Agent) Fetch(_ context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if after >= uint64(len(a.record)) {
		return nil, nil
	}
	out := a.record[after:]
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return append([]api.TranscriptFrame(nil), out...), nil
}

// Transcript returns every output frame sent so far.
func (a *Agent) Transcript() []api.TranscriptFrame {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]api.TranscriptFrame(nil), a.record...)
}

// WindowReports returns the consumption totals the client reported, in order.
func (a *Agent) WindowReports() []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]uint64(nil), a.windows...)
}

// Outstanding returns the output bytes sent and not yet reported consumed.
func (a *Agent) Outstanding() uint64 { return a.win.Outstanding() }

// Err returns the protocol violations the agent saw, joined.
func (a *Agent) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return errors.Join(a.errs...)
}
