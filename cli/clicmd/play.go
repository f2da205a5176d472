package clicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/retry"
	"github.com/tetherhq/tether/streams/transcript"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// playPoll is how often play asks for more frames of a session that is still active.
var playPoll = time.Second

const playPage = 500

// Where play reads a session from.
const (
	sourceAuto    = "auto"    // the transcript stream, else the shipped recording
	sourceStream  = "stream"  // the transcript stream only
	sourceStorage = "storage" // the shipped recording only
)

type playOptions struct {
	speed     float64
	idleLimit time.Duration
	raw       bool
	source    string
	from, to  time.Duration // the window, from the session start; to 0 for the end
	identity  string        // age identity file for an encrypted recording
}

func (a *app) newPlay() *cobra.Command {
	var o playOptions
	cmd := &cobra.Command{
		Use:   "play SESSION_ID [--speed N] [--idle-limit D] [--from D] [--to D] [--raw]",
		Short: "Replay a session's recorded output; follows a session that is still active",
		Long: "Replay a session's output with its original timing. play reads the transcript stream\n" +
			"first and, once the stream no longer holds the session, the recording shipped to\n" +
			"storage (--source forces one). --from and --to are offsets from the session start;\n" +
			"output before --from is skipped and playback stops at --to.",
		Example: "  tether play alice-1 --speed 4\n" +
			"  tether play alice-1 --from 1m30s --to 2m --raw\n" +
			"  tether play alice-1 --source storage --identity ~/.config/tether/age.key",
		Args: exactArgs("SESSION_ID"),
	}
	f := cmd.Flags()
	f.Float64Var(&o.speed, "speed", 1, "playback speed factor")
	f.DurationVar(&o.idleLimit, "idle-limit", 2*time.Second, "longest pause between two outputs")
	f.BoolVar(&o.raw, "raw", false, "dump the output bytes without the original timing")
	f.StringVar(&o.source, "source", sourceAuto, "where to read the session: stream, storage or auto")
	f.DurationVar(&o.from, "from", 0, "skip the output before this offset from the session start")
	f.DurationVar(&o.to, "to", 0, "stop at this offset from the session start (default: the end)")
	f.StringVar(&o.identity, "identity", "", "age identity file to decrypt an encrypted recording")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if err := o.validate(); err != nil {
			return usageError{err}
		}
		return a.play(cmd.Context(), args[0], o)
	})
	return cmd
}

func (o *playOptions) validate() error {
	switch o.source {
	case sourceAuto, sourceStream, sourceStorage:
	default:
		return fmt.Errorf("--source %q: use stream, storage or auto", o.source)
	}
	switch {
	case o.speed <= 0:
		return fmt.Errorf("--speed %v: must be positive", o.speed)
	case o.idleLimit < 0:
		return fmt.Errorf("--idle-limit %v: must not be negative", o.idleLimit)
	case o.from < 0:
		return fmt.Errorf("--from %v: must not be negative", o.from)
	case o.to < 0:
		return fmt.Errorf("--to %v: must not be negative", o.to)
	case o.to > 0 && o.from >= o.to:
		return fmt.Errorf("--from %v, --to %v: --from must come before --to", o.from, o.to)
	case o.identity != "" && o.source == sourceStream:
		return errors.New("--identity decrypts a recording from storage: it does not go with --source stream")
	}
	return nil
}

// play writes the output of session id. With --source auto it reads the transcript stream
// and turns to the shipped recording when the stream does not have the session (any more):
//   - ReadTranscript answers NotFound (the session record is gone);
//   - the first page is empty and the session has ended (Complete, or GetSession says so);
//   - the first page does not start at frame 1 (the stream has lost the session's start).
//
// If storage has no recording either, the first two report what the stream said (nothing
// to play for an ended session without output); the last plays what the stream holds.
func (a *app) play(ctx context.Context, id string, o playOptions) error {
	if o.source == sourceStorage {
		rr, err := a.openRecording(ctx, id)
		if err != nil {
			return err
		}
		return a.playRecording(ctx, rr, o)
	}
	rr, err := a.playStream(ctx, id, o)
	if err != nil || rr == nil {
		return err
	}
	return a.playRecording(ctx, rr, o)
}

// playStream pages through the transcript of session id and writes its output. In auto
// mode it may instead return the shipped recording to play.
func (a *app) playStream(ctx context.Context, id string, o playOptions) (*recordingReader, error) {
	auto := o.source == sourceAuto
	var (
		first  = true
		ended  bool      // GetSession said the session is over while the stream was empty
		gone   bool      // the same, once something was read or with --source stream
		origin time.Time // the session start (when the agent connected), for --from and --to
		p      = newPlayer(o)
	)
	rd := transcript.NewReader(transcript.NewAPI(id, playPage, func(ctx context.Context, req api.ReadTranscriptRequest) (api.ReadTranscriptResponse, error) {
		var resp api.ReadTranscriptResponse
		err := a.call(ctx, api.VerbReadTranscript, req, &resp)
		return resp, err
	}), 0)
	for {
		start, malformed := rd.Last(), rd.Stats().Malformed
		b, err := rd.Read(ctx)
		if err != nil {
			if first && auto && isNotFound(err) {
				return a.recordingInstead(ctx, id, err)
			}
			return nil, err
		}
		// The broker hands out frames in order and has waited for any stored late: a gap
		// left in a page is not going to fill.
		frames := append(b.Frames, rd.Flush()...)
		if n := rd.Stats().Malformed - malformed; n > 0 {
			a.log.Warn("skipping malformed transcript frames", logkey.SessionID, id, logkey.Frames, n)
		}
		if first && (o.from > 0 || o.to > 0) {
			se, err := a.getSession(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("session %s: start time for --from/--to: %w", id, err)
			}
			// The recording's clock: the cast measures its events from the same instant.
			origin = se.StartedAt
			if !se.ConnectedAt.IsZero() {
				origin = se.ConnectedAt
			}
		}
		if auto && start == 0 {
			rr, err := a.checkStream(ctx, id, b, frames, first, &ended)
			if rr != nil || err != nil {
				return rr, err
			}
		}
		first = false
		for _, f := range frames {
			if origin.IsZero() {
				origin = f.Time // offsets only matter relative to each other
			}
			at := f.Time.Sub(origin)
			switch f.Type {
			case frame.Stdout, frame.Stderr:
				w := a.stdout
				if f.Type == frame.Stderr {
					w = a.stderr
				}
				if done, err := p.output(ctx, at, w, f.Payload); done || err != nil {
					return nil, err
				}
			case frame.Error:
				if p.past(at) {
					return nil, nil
				}
				if msg, err := frame.DecodeText(f.Payload); err == nil && at >= o.from {
					fmt.Fprintln(a.stderr, msg)
				}
			}
		}
		if b.Complete {
			return nil, nil
		}
		if rd.Last() == start {
			if b.Msgs > 0 {
				return nil, fmt.Errorf("transcript of %s: no readable frame after %d", id, start)
			}
			if o.to > 0 && !origin.IsZero() && time.Since(origin) > o.to {
				return nil, nil // the window is over; nothing more will fall in it
			}
			if !auto || start > 0 {
				if err := a.checkGone(ctx, id, start, &gone); err != nil {
					return nil, err
				}
			}
			// The session is still running: wait for more output.
			if err := retry.Sleep(ctx, playPoll); err != nil {
				return nil, err
			}
		}
	}
}

// checkGone is called when the stream has nothing after frame after and does not say the
// transcript is complete: it returns an error if the session has ended, for then the
// stream no longer holds the rest of it. A session that ended just now gets one more read
// (gone remembers it) for its last frames to land.
func (a *app) checkGone(ctx context.Context, id string, after uint64, gone *bool) error {
	se, err := a.getSession(ctx, id)
	if err != nil {
		// The stream is what is being played: keep following it.
		a.log.Debug("look whether the session ended", logkey.SessionID, id, logkey.Err, err)
		return ctx.Err()
	}
	if !se.Ended() {
		return nil // still running: follow the stream
	}
	if !*gone {
		*gone = true
		return nil
	}
	what := "it"
	if after > 0 {
		what = fmt.Sprintf("its frames after %d", after)
	}
	return hintError{fmt.Errorf("session %s has ended, but the transcript stream no longer holds %s", id, what),
		"tether play " + id + " --source storage"}
}

// checkStream looks at a page read from the start of the stream and says whether the
// shipped recording should be played instead (rr), or there is nothing to play (err).
func (a *app) checkStream(ctx context.Context, id string, b transcript.Batch, frames []transcript.Frame, first bool, ended *bool) (*recordingReader, error) {
	switch {
	case b.Msgs == 0 && b.Complete:
		// Ended: either it never wrote anything, or its frames are gone from the stream.
		rr, err := a.openRecording(ctx, id)
		if notInStorage(err) || isCode(err, api.CodeAccessDenied) {
			// Nothing to play: a session without output need not have a readable recording.
			a.log.Debug("no recording to play", logkey.SessionID, id, logkey.Err, err)
			return nil, nil
		}
		return rr, err
	case b.Msgs == 0 && *ended:
		return nil, hintError{fmt.Errorf("session %s has ended, but its transcript is no longer in the stream and no recording of it has been shipped", id),
			"tether admin ship status"}
	case b.Msgs == 0:
		se, err := a.getSession(ctx, id)
		if isNotFound(err) {
			return a.recordingInstead(ctx, id, err)
		}
		if err != nil || !se.Ended() {
			return nil, err // still running (or unknown): follow the stream
		}
		rr, err := a.openRecording(ctx, id)
		if notInStorage(err) {
			// Not shipped yet; read once more in case it ended just now, before giving up.
			*ended = true
			return nil, nil
		}
		return rr, err
	case first:
		if len(frames) == 0 || frames[0].Seq <= 1 {
			return nil, nil
		}
		rr, err := a.openRecording(ctx, id)
		if notInStorage(err) {
			fmt.Fprintf(a.stderr, "tether: the stream no longer holds the start of session %s: playing from frame %d\n", id, frames[0].Seq)
			return nil, nil
		}
		return rr, err
	}
	return nil, nil
}

// recordingInstead opens the shipped recording of a session the stream does not know,
// or returns the stream's own error (streamErr) if storage does not have it either.
func (a *app) recordingInstead(ctx context.Context, id string, streamErr error) (*recordingReader, error) {
	rr, err := a.openRecording(ctx, id)
	if notInStorage(err) {
		return nil, streamErr
	}
	return rr, err
}

func (a *app) getSession(ctx context.Context, id string) (api.Session, error) {
	var resp api.GetSessionResponse
	err := a.call(ctx, api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &resp)
	return resp.Session, err
}

func isCode(err error, code string) bool {
	ae, ok := errors.AsType[*api.Error](err)
	return ok && ae.Code == code
}

func isNotFound(err error) bool { return isCode(err, api.CodeNotFound) }

// notInStorage reports whether err says there is no shipped recording to read: NotFound,
// a broker without recordings storage (Unavailable), or one that does not serve
// GetRecording at all.
func notInStorage(err error) bool {
	return isNotFound(err) || isCode(err, api.CodeUnavailable) || errors.Is(err, api.ErrNoControlPlane)
}

// player writes output at its offset from the session start: only what falls in the
// window, and, unless raw, with the recorded pauses scaled by speed and capped by the idle
// limit.
type player struct {
	o       playOptions
	started bool          // something was written
	prev    time.Duration // offset of the last output written
}

func newPlayer(o playOptions) *player { return &player{o: o, prev: o.from} }

// past reports whether offset at is at or after the end of the window.
func (p *player) past(at time.Duration) bool { return p.o.to > 0 && at >= p.o.to }

// output plays data recorded at offset at; done is true once at reaches the window's end.
func (p *player) output(ctx context.Context, at time.Duration, w io.Writer, data []byte) (done bool, err error) {
	if p.past(at) {
		return true, nil
	}
	if at < p.o.from {
		return false, nil
	}
	// Without --from the first output plays at once; with it, playback starts at --from.
	if !p.o.raw && (p.started || p.o.from > 0) {
		if err := retry.Sleep(ctx, min(time.Duration(float64(at-p.prev)/p.o.speed), p.o.idleLimit)); err != nil {
			return false, err
		}
	}
	p.started, p.prev = true, at
	if _, err := w.Write(data); err != nil {
		return false, fmt.Errorf("write output: %w", err)
	}
	return false, nil
}
