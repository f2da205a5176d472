package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/retry"
	"github.com/tetherhq/tether/streams/transcript"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/flow"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// Options configure Run.
type Options struct {
	// Stdin is forwarded to the process. Run returns without waiting for a Read that is
	// blocked; bytes that Read returns after Run returned are discarded.
	Stdin io.Reader
	// Stdout and Stderr receive the process's output. A nil Stderr means Stdout.
	Stdout, Stderr io.Writer
	// Interactive says the session runs in a terminal: the first frame is the terminal
	// size and stdin EOF does not close the process's stdin.
	Interactive bool
	// NoStdin closes the process's stdin right after attaching; Stdin is not read.
	NoStdin bool
	// Cols and Rows are the initial terminal size (interactive; default 80x24).
	Cols, Rows uint16
	// Resize delivers terminal size changes, each sent as a Resize frame.
	Resize <-chan frame.Size
	// Interrupt delivers signals to forward to the process as Signal frames (for
	// non-interactive sessions, where Ctrl-C reaches tether and not the terminal).
	Interrupt <-chan os.Signal
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Fetch reads output frames with sequence numbers after after from the session's
	// transcript, at most max of them. Run uses it to repair gaps in the live output;
	// usually it is a ReadTranscript call. With Fetch nil, a gap is logged and skipped.
	Fetch func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error)
	// OnExit, if set, is called with the Exit frame's status before Run returns, or with
	// the End frame's when the broker ended the session without an exit (code -1).
	OnExit func(frame.ExitStatus)
	// Ended, when set, asks the broker whether the session has ended, and how: an End
	// frame on the output subject is believed only when the broker says so, and its
	// status is then the broker's (the session's agent may publish on that subject too:
	// an End it forged is ignored). Usually a GetSession call. With Ended nil, or when it
	// fails, the End frame is believed.
	Ended func(ctx context.Context) (st frame.ExitStatus, ended bool, err error)
	// After is the number of the last output frame already shown: Run shows the output
	// after it (a resumed session's client passes the response's OutputSeq, or the last
	// frame an earlier client showed).
	After uint64
	// Resume says the session was resumed: the agent is told the new client counts the
	// output it consumes afresh (a Window frame with FlagRebase).
	Resume bool
	// Forward, when set, makes the session a port forwarding one (ForwardOptions);
	// Stdin, Stdout and Stderr are not used.
	Forward *ForwardOptions
	// ResumeWindow is how long Run waits for a lost connection to the broker to come back
	// before it returns ErrLost; the start response's value when zero.
	ResumeWindow time.Duration
}

// ErrConnClosed is returned by Run when the NATS connection closes during the session.
var ErrConnClosed = errors.New("session: the connection to the broker closed")

// ErrLost is returned by Run when the connection to the broker stayed lost for the whole
// resume window. The session may still run.
var ErrLost = errors.New("session: the connection to the broker stayed lost for the resume window")

// DetachedError is the error of a Run that stopped following a session before its end:
// Last is the number of the last output frame shown, for a later resume to go on from.
type DetachedError struct {
	Last uint64
	Err  error
}

func (e *DetachedError) Error() string { return e.Err.Error() }
func (e *DetachedError) Unwrap() error { return e.Err }

// Tunables, variables so tests can shorten them.
var (
	gapTimeout  = 10 * time.Second       // how long to wait for missing frames to appear
	idleFlush   = 20 * time.Millisecond  // report consumption after output idles this long
	probeFirst  = 2 * time.Second        // look for lost frames after this much silence…
	probeMax    = 30 * time.Second       // …backing off to this
	pendingSize = 256 << 20              // bytes nats.go may queue per subscription
	fetchMax    = 500                    // frames asked for per Fetch
	endCatchUp  = 5 * time.Second        // how long an End frame waits for missing output
	endConfirm  = 5 * time.Second        // how long an End frame waits for the broker to confirm it
	endChecks   = 3                      // times the broker is asked about an End frame
	endRecheck  = 500 * time.Millisecond // between them, while it says the session runs
	keepalive   = 15 * time.Second       // send a Keepalive after this much silence
	// fetchBackoff spaces the Fetch attempts that repair a gap.
	fetchBackoff = retry.Policy{Min: 20 * time.Millisecond, Max: 500 * time.Millisecond}
)

// defaultResumeWindow is the resume window when neither the broker nor the caller says.
const defaultResumeWindow = 3 * time.Minute

// Run attaches to a started session and runs it to the end. It returns the process's exit
// code as the agent reported it (-1 when it was killed by a signal, or when the broker
// ended the session without one) with a nil error, or a *DetachedError if the session
// could not be followed to its end (wrapping ctx's error if ctx ends first).
func Run(ctx context.Context, nc *nats.Conn, start api.StartSessionResponse, opts Options) (exitCode int, err error) {
	s := start.Subjects
	if s.In == "" || s.Out == "" || s.Ctl == "" {
		return -1, errors.New("session: start response has no subjects")
	}
	window := start.Window
	if window <= 0 {
		window = frame.DefaultWindow
	}
	if opts.Stderr == nil {
		opts.Stderr = opts.Stdout
	}
	if opts.Stdout == nil {
		opts.Stdout, opts.Stderr = io.Discard, io.Discard
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ResumeWindow <= 0 {
		opts.ResumeWindow = time.Duration(start.ResumeWindow)
	}
	if opts.ResumeWindow <= 0 {
		opts.ResumeWindow = defaultResumeWindow
	}
	c := &client{
		nc:    nc,
		subj:  s,
		opts:  opts,
		log:   log.With(logkey.SessionID, start.Session.ID),
		inWin: flow.NewWindow(window),
		acker: flow.NewAcker(window),
		outCh: make(chan *nats.Msg, 64),
		ctlCh: make(chan *nats.Msg, 16),
		done:  make(chan struct{}),
		seq:   start.InputSeq,
		last:  opts.After,
		// An agent publishing End frames without end must not make its user's client
		// call the broker without end.
		endAsks: rate.NewLimiter(rate.Every(time.Second), 3),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.stop()
	defer func() {
		if err != nil {
			err = &DetachedError{Last: c.last, Err: err}
		}
	}()
	if opts.Forward != nil {
		c.fwd = newForwarder(c, *opts.Forward)
		defer func() {
			cancel() // first: connections still opening give up without a notice
			c.fwd.stop("the client stopped")
		}()
	}
	if err := c.attach(); err != nil {
		return -1, err
	}
	if c.fwd != nil {
		c.fwd.start(ctx)
	} else if opts.NoStdin && !opts.Interactive {
		if err := c.send(frame.Close, nil); err != nil {
			return -1, err
		}
	} else if opts.Stdin != nil && !opts.NoStdin {
		go c.pumpStdin(ctx)
	}
	return c.loop(ctx)
}

type client struct {
	nc    *nats.Conn
	subj  api.Subjects
	opts  Options
	log   *slog.Logger
	inWin *flow.Window
	acker *flow.Acker

	outCh, ctlCh chan *nats.Msg
	fwd          *forwarder    // port forwarding; nil for other sessions
	endAsks      *rate.Limiter // paces Options.Ended
	done         chan struct{} // closed by stop: unblocks subscription callbacks
	subs         []*nats.Subscription
	status       chan nats.Status

	sendMu  sync.Mutex
	seq     uint64    // last In sequence number sent
	sentAt  time.Time // when the last frame was sent
	stopped bool

	last    uint64 // last Out sequence number delivered
	unacked bool   // consumed bytes not yet reported
}

// attach subscribes to the session's output, then sends the first frame.
func (c *client) attach() error {
	c.status = c.nc.StatusChanged(nats.CLOSED, nats.RECONNECTING, nats.CONNECTED)
	for _, sc := range []struct {
		subject string
		ch      chan *nats.Msg
	}{{c.subj.Out, c.outCh}, {c.subj.Ctl, c.ctlCh}} {
		ch := sc.ch
		ctl := sc.subject == c.subj.Ctl
		sub, err := c.nc.Subscribe(sc.subject, func(m *nats.Msg) {
			// Forwarded connections' frames go straight to them, in order, from here:
			// their flow control bounds what waits.
			if ctl && c.fwd != nil {
				if f, err := frame.Decode(m.Data); err == nil && c.fwd.handle(f) {
					return
				}
			}
			select {
			case ch <- m:
			case <-c.done:
			}
		})
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", sc.subject, err)
		}
		c.subs = append(c.subs, sub)
		if err := sub.SetPendingLimits(-1, pendingSize); err != nil {
			return fmt.Errorf("subscribe %s: %w", sc.subject, err)
		}
	}
	if err := c.nc.FlushTimeout(10 * time.Second); err != nil {
		return fmt.Errorf("subscribe to session output: %w", err)
	}
	if c.opts.Interactive {
		sz := frame.Size{Cols: c.opts.Cols, Rows: c.opts.Rows}
		if sz.Cols == 0 || sz.Rows == 0 {
			sz = frame.Size{Cols: 80, Rows: 24}
		}
		if err := c.send(frame.Resize, frame.EncodeSize(sz)); err != nil {
			return err
		}
	} else if err := c.send(frame.Keepalive, nil); err != nil {
		return err
	}
	if c.opts.Resume {
		// The agent's count of consumed output was the earlier client's: start afresh.
		return c.sendFlags(frame.Window, frame.FlagRebase, frame.EncodeWindow(0))
	}
	return nil
}

// stop releases everything Run set up. Nothing is sent after it.
func (c *client) stop() {
	c.sendMu.Lock()
	c.stopped = true
	c.sendMu.Unlock()
	close(c.done)
	c.inWin.Close()
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
	if c.status != nil {
		c.nc.RemoveStatusListener(c.status)
	}
}

var errStopped = errors.New("session: stopped")

// send publishes one frame on In with the next sequence number.
func (c *client) send(t frame.Type, payload []byte) error {
	return c.sendFlags(t, 0, payload)
}

func (c *client) sendFlags(t frame.Type, flags uint8, payload []byte) error {
	buf := make([]byte, frame.HeaderLen, frame.HeaderLen+len(payload))
	return c.sendBuf(t, flags, append(buf, payload...))
}

// sendBuf publishes one frame on In with the next sequence number: buf[:frame.HeaderLen]
// is for its header, the payload follows. It does not keep buf.
func (c *client) sendBuf(t frame.Type, flags uint8, buf []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.stopped {
		return errStopped
	}
	c.seq++
	frame.PutHeader(buf, t, flags, c.seq)
	if err := c.nc.Publish(c.subj.In, buf); err != nil {
		c.seq--
		return fmt.Errorf("send %s frame: %w", t, err)
	}
	c.sentAt = time.Now()
	return nil
}

// idleSince is how long ago the last frame was sent.
func (c *client) idleSince() time.Duration {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return time.Since(c.sentAt)
}

// notice tells the user about the connection, on stderr.
func (c *client) notice(msg string) {
	nl := "\n"
	if c.opts.Interactive {
		nl = "\r\n"
	}
	_, _ = io.WriteString(c.opts.Stderr, nl+"tether: "+msg+nl)
}

func (c *client) pumpStdin(ctx context.Context) {
	buf := make([]byte, frame.ChunkSize)
	for {
		n, err := c.opts.Stdin.Read(buf)
		if n > 0 {
			if werr := c.inWin.Acquire(ctx, n); werr != nil {
				return
			}
			if serr := c.send(frame.Stdin, buf[:n]); serr != nil {
				c.warn("forward stdin", serr)
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.warn("read stdin", err)
			}
			if !c.opts.Interactive {
				if serr := c.send(frame.Close, nil); serr != nil {
					c.warn("close stdin", serr)
				}
			}
			return
		}
	}
}

// warn logs a problem of the stdin pump, unless Run has returned: the pump may outlive
// Run in a blocked Read, and must not write to the caller's logger afterwards.
func (c *client) warn(msg string, err error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if !c.stopped && !errors.Is(err, errStopped) {
		c.log.Warn(msg, logkey.Err, err)
	}
}

func (c *client) loop(ctx context.Context) (int, error) {
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	var probe <-chan time.Time
	probeWait := probeFirst
	var probeTimer *time.Timer
	if c.opts.Fetch != nil {
		probeTimer = time.NewTimer(probeWait)
		defer probeTimer.Stop()
		probe = probeTimer.C
	}
	if c.nc.IsClosed() {
		return -1, ErrConnClosed
	}
	// A client that sends nothing for the resume window is gone, for a session without a
	// terminal: keepalives say it is not.
	every := min(keepalive, c.opts.ResumeWindow/4)
	beat := time.NewTicker(every)
	defer beat.Stop()
	var lost <-chan time.Time // set while the connection is being re-established
	for {
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case st := <-c.status:
			switch st {
			case nats.CLOSED:
				return -1, ErrConnClosed
			case nats.RECONNECTING:
				if lost == nil {
					c.notice("connection to the broker lost; reconnecting…")
					lost = time.After(c.opts.ResumeWindow)
				}
			case nats.CONNECTED:
				if lost == nil {
					continue
				}
				lost = nil
				c.notice("reconnected")
				// Reports sent while the connection was down may be lost: say again, and
				// look for output that was published meanwhile.
				if err := c.send(frame.Window, frame.EncodeWindow(c.acker.Total())); err != nil {
					return -1, err
				}
				if c.opts.Fetch != nil {
					rd, _ := c.transcriptReader(fetchMax)
					for {
						progress, code, done, err := c.readMissing(ctx, rd)
						if err != nil || done {
							return code, err
						}
						if !progress {
							break
						}
					}
				}
				if c.unacked {
					idle.Reset(idleFlush)
				}
			}
		case <-lost:
			return -1, ErrLost
		case <-beat.C:
			if c.idleSince() >= every/2 {
				if err := c.send(frame.Keepalive, nil); err != nil {
					return -1, err
				}
			}
		case m := <-c.outCh:
			code, done, err := c.onOut(ctx, m.Data)
			if err != nil || done {
				return code, err
			}
			if c.unacked {
				idle.Reset(idleFlush)
			}
			if probeTimer != nil {
				probeWait = probeFirst
				probeTimer.Reset(probeWait)
			}
		case m := <-c.ctlCh:
			c.onCtl(m.Data)
		case <-c.fwdDone():
			return -1, ErrForwardDone
		case sz, ok := <-c.opts.Resize:
			if !ok {
				c.opts.Resize = nil
				continue
			}
			if err := c.send(frame.Resize, frame.EncodeSize(sz)); err != nil {
				return -1, err
			}
		case sig, ok := <-c.opts.Interrupt:
			if !ok {
				c.opts.Interrupt = nil
				continue
			}
			name := SignalName(sig)
			if name == "" {
				c.log.Debug("not forwarding signal", logkey.Signal, sig)
				continue
			}
			if err := c.send(frame.Signal, []byte(name)); err != nil {
				return -1, err
			}
		case <-idle.C:
			if err := c.flushAcks(); err != nil {
				return -1, err
			}
		case <-probe:
			// Output has been silent: frames at the end (an Exit) may have been lost
			// while nothing followed them to reveal the gap.
			rd, _ := c.transcriptReader(fetchMax)
			if _, code, done, err := c.readMissing(ctx, rd); err != nil || done {
				return code, err
			}
			if c.unacked {
				idle.Reset(idleFlush)
			}
			probeWait = min(2*probeWait, probeMax)
			probeTimer.Reset(probeWait)
		}
	}
}

func (c *client) flushAcks() error {
	c.unacked = false
	if total, report := c.acker.Flush(); report {
		return c.send(frame.Window, frame.EncodeWindow(total))
	}
	return nil
}

// onOut handles one message from the output subject.
func (c *client) onOut(ctx context.Context, data []byte) (code int, done bool, err error) {
	f, err := frame.Decode(data)
	if err != nil {
		c.log.Warn("dropping malformed output frame", logkey.Err, err)
		return 0, false, nil
	}
	switch {
	case f.Type == frame.End:
		return c.onEnd(ctx, f)
	case f.Seq <= c.last:
		c.log.Debug("dropping duplicate output frame", logkey.Seq, f.Seq)
		return 0, false, nil
	case f.Seq > c.last+1:
		code, done, err := c.repair(ctx, f.Seq)
		if err != nil || done || f.Seq <= c.last {
			return code, done, err
		}
	}
	return c.deliver(f)
}

// onEnd handles the broker's End frame: the session is over. The output the record holds
// is shown first (the End frame follows it in the stream, but the live copies of the last
// frames may be lost), for at most endCatchUp; an Exit frame found there wins.
func (c *client) onEnd(ctx context.Context, f frame.Frame) (code int, done bool, err error) {
	st, err := frame.DecodeExit(f.Payload)
	if err != nil {
		c.log.Warn("malformed end frame", logkey.Err, err)
		st = frame.ExitStatus{Code: -1, Reason: "ended"}
	}
	if c.opts.Ended != nil {
		bst, ended, err := c.confirmEnd(ctx)
		switch {
		case ctx.Err() != nil:
			return -1, true, ctx.Err()
		case err != nil:
			c.log.Debug("could not confirm the session's end with the broker: believing the end frame", logkey.Err, err)
		case !ended:
			c.log.Warn("ignoring an end frame the broker did not send: the session still runs", logkey.Reason, st.Reason)
			return 0, false, nil
		default:
			st = bst
		}
	}
	if c.opts.Fetch != nil {
		ctx, cancel := context.WithTimeout(ctx, endCatchUp)
		defer cancel()
		rd, _ := c.transcriptReader(fetchMax)
		for ctx.Err() == nil {
			progress, code, done, err := c.readMissing(ctx, rd)
			if done && err == nil {
				return code, true, nil
			}
			if err != nil || !progress {
				break
			}
		}
	}
	c.log.Debug("session ended by the broker", logkey.Code, st.Code, logkey.Reason, st.Reason)
	if c.opts.OnExit != nil {
		c.opts.OnExit(st)
	}
	return int(st.Code), true, nil
}

// confirmEnd asks the broker (Options.Ended) whether the session ended, up to endChecks
// times endRecheck apart while it says no: a broker of a cluster may answer from a replica
// that has not seen the end yet. The asks are paced by c.endAsks.
func (c *client) confirmEnd(ctx context.Context) (st frame.ExitStatus, ended bool, err error) {
	for i := range endChecks {
		if i > 0 {
			t := time.NewTimer(endRecheck)
			select {
			case <-ctx.Done():
				t.Stop()
				return st, false, ctx.Err()
			case <-t.C:
			}
		}
		if err := c.endAsks.Wait(ctx); err != nil {
			return st, false, err
		}
		actx, cancel := context.WithTimeout(ctx, endConfirm)
		st, ended, err = c.opts.Ended(actx)
		cancel()
		if err != nil || ended {
			return st, ended, err
		}
	}
	return st, false, nil
}

// repair fills the gap before seq from the transcript.
func (c *client) repair(ctx context.Context, seq uint64) (code int, done bool, err error) {
	from := c.last + 1
	if c.opts.Fetch == nil {
		c.log.Warn("output frames lost", logkey.From, from, logkey.To, seq-1)
		c.last = seq - 1
		return 0, false, nil
	}
	c.log.Debug("repairing output gap", logkey.From, from, logkey.To, seq-1)
	deadline := time.Now().Add(gapTimeout)
	rd, src := c.transcriptReader(fetchMax)
	b := fetchBackoff.Start()
	for c.last < seq-1 {
		src.Max = int(min(seq-1-c.last, uint64(fetchMax)))
		progress, code, done, err := c.readMissing(ctx, rd)
		if err != nil || done {
			return code, done, err
		}
		if progress {
			b.Reset()
			continue
		}
		if time.Now().After(deadline) {
			return -1, true, fmt.Errorf("session: output frames %d to %d are missing from the transcript", c.last+1, seq-1)
		}
		if err := b.Wait(ctx); err != nil {
			return -1, true, err
		}
	}
	return 0, false, nil
}

// transcriptReader reads the output after the last frame delivered from the session's
// transcript through Fetch, max frames a call.
func (c *client) transcriptReader(max int) (*transcript.Reader, *transcript.API) {
	src := transcript.NewAPI("", max, func(ctx context.Context, req api.ReadTranscriptRequest) (api.ReadTranscriptResponse, error) {
		frames, err := c.opts.Fetch(ctx, req.After, req.Max)
		return api.ReadTranscriptResponse{Frames: frames}, err
	})
	return transcript.NewReader(src, c.last), src
}

// readMissing reads one page of the transcript and delivers the frames that continue the
// output in order; a frame after a gap waits in rd for the frames before it.
func (c *client) readMissing(ctx context.Context, rd *transcript.Reader) (progress bool, code int, done bool, err error) {
	skipped := rd.Stats().Malformed
	b, err := rd.Read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, -1, true, ctx.Err()
		}
		c.log.Debug("fetch missing output", logkey.Err, err)
		return false, 0, false, nil
	}
	if n := rd.Stats().Malformed - skipped; n > 0 {
		c.log.Warn("dropping malformed transcript frames", logkey.Frames, n)
	}
	for _, f := range b.Frames {
		if f.Seq <= c.last {
			continue // delivered live meanwhile
		}
		progress = true
		if code, done, err := c.deliver(f.Frame); err != nil || done {
			return progress, code, done, err
		}
	}
	return progress, 0, false, nil
}

// deliver acts on the next output frame in sequence.
func (c *client) deliver(f frame.Frame) (code int, done bool, err error) {
	c.last = f.Seq
	switch f.Type {
	case frame.Stdout, frame.Stderr:
		w := c.opts.Stdout
		if f.Type == frame.Stderr {
			w = c.opts.Stderr
		}
		if _, err := w.Write(f.Payload); err != nil {
			if errors.Is(err, syscall.EPIPE) {
				return -1, true, c.brokenPipe()
			}
			return -1, true, fmt.Errorf("write %s: %w", f.Type, err)
		}
		total, report := c.acker.Consumed(len(f.Payload))
		if report {
			c.unacked = false
			if err := c.send(frame.Window, frame.EncodeWindow(total)); err != nil {
				return -1, true, err
			}
		} else {
			c.unacked = true
		}
	case frame.Error:
		msg, err := frame.DecodeText(f.Payload)
		if err != nil {
			c.log.Warn("dropping malformed error frame", logkey.Err, err)
			break
		}
		nl := "\n"
		if c.opts.Interactive {
			nl = "\r\n"
		}
		if _, err := io.WriteString(c.opts.Stderr, msg+nl); err != nil {
			return -1, true, fmt.Errorf("write error: %w", err)
		}
	case frame.Exit:
		st, err := frame.DecodeExit(f.Payload)
		if err != nil {
			c.log.Warn("malformed exit status", logkey.Err, err)
			st = frame.ExitStatus{Code: -1, Reason: "malformed exit status"}
			if len(f.Payload) >= 4 {
				st.Code = int32(uint32(f.Payload[0])<<24 | uint32(f.Payload[1])<<16 | uint32(f.Payload[2])<<8 | uint32(f.Payload[3]))
			}
		}
		c.log.Debug("session ended", logkey.Code, st.Code, logkey.Reason, st.Reason)
		if c.opts.OnExit != nil {
			c.opts.OnExit(st)
		}
		return int(st.Code), true, nil
	default:
		// Resize echoes, keepalives and anything newer are not for the terminal.
	}
	return 0, false, nil
}

// brokenPipe tells the agent that our output broke, as ssh closes its channel when
// `ssh host cmd | head` stops reading: the remote command meets a broken pipe in turn.
func (c *client) brokenPipe() error {
	if err := c.send(frame.Signal, []byte(frame.SignalPipe)); err != nil {
		return fmt.Errorf("%w (and telling the agent: %v)", ErrBrokenPipe, err)
	}
	if err := c.nc.FlushTimeout(pipeFlush); err != nil {
		return fmt.Errorf("%w (and telling the agent: %v)", ErrBrokenPipe, err)
	}
	return ErrBrokenPipe
}

// pipeFlush bounds the wait for the broken pipe's Signal frame to leave.
const pipeFlush = 5 * time.Second

// ErrBrokenPipe is returned by Run when writing output failed with EPIPE: the reader of
// our output went away. The remote process was told (its outputs close).
var ErrBrokenPipe = errors.New("session: output: broken pipe")

// onCtl handles one message from the control subject.
func (c *client) onCtl(data []byte) {
	f, err := frame.Decode(data)
	if err != nil {
		c.log.Warn("dropping malformed control frame", logkey.Err, err)
		return
	}
	switch f.Type {
	case frame.Window:
		n, err := frame.DecodeWindow(f.Payload)
		if err != nil {
			c.log.Warn("dropping malformed window frame", logkey.Err, err)
			return
		}
		c.inWin.Ack(n)
	default:
	}
}

// SignalName is the name a Signal frame carries for s ("INT", "TERM", "HUP", "QUIT"),
// or "" for a signal that is not forwarded.
func SignalName(s os.Signal) string {
	switch s {
	case os.Interrupt, syscall.SIGINT:
		return "INT"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGQUIT:
		return "QUIT"
	}
	return ""
}
