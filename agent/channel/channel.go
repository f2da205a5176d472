package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/flow"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// Publisher is the part of a JetStream context the channel records output with.
type Publisher interface {
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

var _ Publisher = (jetstream.JetStream)(nil)

// Process is what the channel drives with the client's frames.
type Process interface {
	io.Writer // stdin
	CloseStdin() error
	Resize(cols, rows uint16) error
	Signal(name string) error
}

// Output is one output stream of the process: Type is frame.Stdout or frame.Stderr.
type Output struct {
	Type frame.Type
	R    io.ReadCloser
}

// Config configures a Channel.
type Config struct {
	Conn      *nats.Conn // core subscription on In, core publishes on Ctl
	JS        Publisher  // records frames on Out
	SessionID string
	Subjects  api.Subjects
	// Window is the credit window of each data direction; frame.DefaultWindow when zero.
	Window int
	Logger *slog.Logger
	// RecordTimeout is how long a frame may fail to be recorded before the channel gives up
	// (Failed is closed); 30s when zero.
	RecordTimeout time.Duration
	// OnActivity, when set, is called for each input frame a person causes (Stdin, Resize,
	// Signal; not Window reports or Keepalives) and, with OutputActivity, for each read of
	// output. It runs on the channel's goroutines and must be cheap.
	OnActivity func()
	// OutputActivity makes output count as activity: for a session without a terminal,
	// where a long-running command is busy without any input.
	OutputActivity bool
	// Preface is written to the process's stdin once it is bound, before any of the client's
	// input (a shell profile typed into the terminal). It is not counted against the client's
	// input window, nor recorded as input.
	Preface []byte
	// RecordInput records the client's input on Subjects.Rin through JS: the payload of each
	// Stdin frame the process is given, as a Stdin frame numbered in a sequence of its own.
	// A frame that cannot be recorded fails the channel as output does. The client's input credit
	// then waits for both the process and the stream.
	RecordInput bool
	// Forward, when set, takes the port forwarding frames from In (streams/wire/fwd.Is),
	// in order, on the subscription's goroutine: it must not block. Without it they are
	// dropped.
	Forward func(frame.Frame)
}

// Stats summarises a finished channel.
type Stats struct {
	Frames      uint64 // frames published on Out, the Exit frame included
	Bytes       uint64 // payload bytes of data frames
	InputFrames uint64 // Stdin frames recorded on Rin (Config.RecordInput)
	InputBytes  uint64 // their payload bytes
	Err         error  // why recording failed, if it did
}

// Channel is one session's binding to its subjects.
type Channel struct {
	cfg   Config
	log   *slog.Logger
	win   *flow.Window // output credit
	acker *flow.Acker  // input consumption
	sub   *nats.Subscription

	attached   chan struct{}
	attachOnce sync.Once
	bound      chan struct{}
	bindOnce   sync.Once
	proc       Process // set before bound is closed

	out    outbound
	in     inbox
	rin    recorder
	credit inputCredit
	// inSeq is the number of the last input frame taken, refusedIn how many were refused;
	// both belong to the subscription's goroutine.
	inSeq     uint64
	refusedIn uint64
	lastIn    atomic.Int64 // unix nanoseconds the last input frame was taken (or Open)
	ctlMu     sync.Mutex
	ctlSeq    uint64 // last sequence number sent on Ctl

	failed   chan struct{}
	failOnce sync.Once
	failErr  error
	// stop ends the waits between attempts to record a frame: cancelled when the channel
	// fails or finishes.
	stop       context.Context
	cancelStop context.CancelFunc

	quit       chan struct{}
	writerDone chan struct{}
	finishOnce sync.Once
	stats      Stats
}

// inPending is how many bytes of input nats.go may hold for the channel's callback.
const inPending = 256 << 20

// Open subscribes to the session's input subject and starts the output publisher. The
// caller must eventually call Finish.
func Open(cfg Config) (*Channel, error) {
	if cfg.Conn == nil || cfg.JS == nil {
		return nil, errors.New("channel: Conn and JS are required")
	}
	if cfg.Subjects.In == "" || cfg.Subjects.Out == "" || cfg.Subjects.Ctl == "" {
		return nil, errors.New("channel: in, out and ctl subjects are required")
	}
	if cfg.RecordInput && cfg.Subjects.Rin == "" {
		return nil, errors.New("channel: the rin subject is required to record input")
	}
	if cfg.Window <= 0 {
		cfg.Window = frame.DefaultWindow
	}
	if cfg.RecordTimeout <= 0 {
		cfg.RecordTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Channel{
		cfg:        cfg,
		log:        cfg.Logger,
		win:        flow.NewWindow(cfg.Window),
		acker:      flow.NewAcker(cfg.Window),
		attached:   make(chan struct{}),
		bound:      make(chan struct{}),
		failed:     make(chan struct{}),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.stop, c.cancelStop = context.WithCancel(context.Background())
	c.lastIn.Store(time.Now().UnixNano())
	c.in.init()
	c.out.init()
	c.rin.init(cfg.RecordInput)
	sub, err := cfg.Conn.Subscribe(cfg.Subjects.In, c.onIn)
	if err != nil {
		c.cancelStop()
		return nil, fmt.Errorf("subscribe %s: %w", cfg.Subjects.In, err)
	}
	// Input is bounded by its credit windows (the session's, and each forwarded
	// connection's): nats.go must not drop what they allow while the callback catches up.
	if err := sub.SetPendingLimits(-1, inPending); err != nil {
		_ = sub.Unsubscribe()
		c.cancelStop()
		return nil, fmt.Errorf("subscribe %s: %w", cfg.Subjects.In, err)
	}
	c.sub = sub
	go c.pump()
	go c.track()
	go c.writeStdin()
	if cfg.RecordInput {
		go c.record()
		go c.trackInput()
	}
	return c, nil
}

// Attached is closed when the first well-formed frame arrives on the input subject: the
// client is listening and the process may start.
func (c *Channel) Attached() <-chan struct{} { return c.attached }

// Failed is closed when output, or recorded input, could not be recorded in the
// transcript stream.
func (c *Channel) Failed() <-chan struct{} { return c.failed }

// Bind connects the started process: input frames now reach it and its outputs are read
// and published. Frames that arrived before Bind are delivered, in order, after it.
func (c *Channel) Bind(p Process, outs ...Output) {
	c.bindOnce.Do(func() {
		c.proc = p
		c.out.startReaders(c, outs)
		close(c.bound)
	})
}

// LastInput is when the client last sent a frame that was taken (any frame, keepalives
// included), or when the channel opened.
func (c *Channel) LastInput() time.Time { return time.Unix(0, c.lastIn.Load()) }

// closeOutputs closes the process's outputs, as the reading end of a pipe the reader
// stopped reading: the client's own output broke (`tether … | head`). The process's next
// write fails with EPIPE (SIGPIPE), as under ssh, and the output left is not recorded:
// nobody will read it.
func (c *Channel) closeOutputs() {
	for _, r := range c.out.readers {
		if err := r.r.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			c.log.Debug("close output", logkey.Err, err)
		}
	}
	c.ReleaseWindow()
}

// ReleaseWindow stops waiting for the client's credit: the rest of the output is recorded
// as fast as the stream takes it. Sessions ended by request use it so a client that went
// away cannot hold the end up.
func (c *Channel) ReleaseWindow() { c.win.Close() }

// SendError publishes an Error frame with text on the output subject.
func (c *Channel) SendError(text string) {
	if len(text) > frame.MaxReason {
		text = text[:frame.MaxReason]
	}
	c.out.queue(frame.Error, []byte(text), false)
}

// SendResize publishes a Resize frame recording the terminal size.
func (c *Channel) SendResize(s frame.Size) { c.out.queue(frame.Resize, frame.EncodeSize(s), true) }

// Drain waits until every output has been read to its end; call it after the process has
// exited. An output whose Read has been blocked for longer than idle (another process
// still holds the terminal or pipe open) is closed.
func (c *Channel) Drain(idle time.Duration) { c.out.drain(idle) }

// Finish publishes the Exit frame as the last frame on Out, waits until the stream has
// acknowledged every frame (recorded input included), and stops the channel. When ctx is done before that, the credit
// window is released (see ReleaseWindow). Call Drain first when a process was bound.
// Finish is idempotent; later calls return the first result.
func (c *Channel) Finish(ctx context.Context, st frame.ExitStatus) Stats {
	c.finishOnce.Do(func() {
		c.bindOnce.Do(func() { // never bound: no outputs, no process
			c.out.startReaders(c, nil)
			close(c.bound)
		})
		c.out.exit <- st
		select {
		case <-c.out.pumpDone:
		case <-ctx.Done():
			c.ReleaseWindow()
			<-c.out.pumpDone
		}
		<-c.out.trackDone
		if err := c.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			c.log.Debug("unsubscribe input", logkey.Err, err)
		}
		close(c.quit)
		<-c.writerDone
		<-c.rin.done
		c.ReleaseWindow()
		c.cancelStop()
		c.stats = Stats{
			Frames: c.out.frames, Bytes: c.out.bytes,
			InputFrames: c.rin.seq, InputBytes: c.rin.bytes,
			Err: c.failErr,
		}
	})
	return c.stats
}

func (c *Channel) fail(err error) {
	c.failOnce.Do(func() {
		c.failErr = err
		c.log.Error("recording failed", logkey.Err, err)
		close(c.failed)
		c.cancelStop()
		c.ReleaseWindow()
	})
}

// activity reports input or output that defers an idle timeout.
func (c *Channel) activity() {
	if c.cfg.OnActivity != nil {
		c.cfg.OnActivity()
	}
}

func (c *Channel) isFailed() bool {
	select {
	case <-c.failed:
		return true
	default:
		return false
	}
}
