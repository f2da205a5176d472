package clicmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/streams/frame"
)

// playPoll is how often play asks for more frames of a session that is still active.
var playPoll = time.Second

const playPage = 500

type playOptions struct {
	speed     float64
	idleLimit time.Duration
	raw       bool
}

func (a *app) newPlay() *cobra.Command {
	var o playOptions
	cmd := &cobra.Command{
		Use:   "play SESSION_ID [--speed N] [--idle-limit D] [--raw]",
		Short: "Replay a session's recorded output; follows a session that is still active",
		Args:  exactArgs("SESSION_ID"),
	}
	f := cmd.Flags()
	f.Float64Var(&o.speed, "speed", 1, "playback speed factor")
	f.DurationVar(&o.idleLimit, "idle-limit", 2*time.Second, "longest pause between two outputs")
	f.BoolVar(&o.raw, "raw", false, "dump the output bytes without the original timing")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if o.speed <= 0 {
			return usageError{fmt.Errorf("--speed %v: must be positive", o.speed)}
		}
		if o.idleLimit < 0 {
			return usageError{fmt.Errorf("--idle-limit %v: must not be negative", o.idleLimit)}
		}
		return a.play(cmd.Context(), args[0], o)
	})
	return cmd
}

// play pages through the transcript of session id and writes its output.
func (a *app) play(ctx context.Context, id string, o playOptions) error {
	var (
		after  uint64    // last frame written
		cursor uint64    // where the broker resumes reading its stream
		prev   time.Time // time of the last output frame written
	)
	for {
		var resp api.ReadTranscriptResponse
		req := api.ReadTranscriptRequest{SessionID: id, After: after, Max: playPage, Cursor: cursor}
		if err := a.call(ctx, api.VerbReadTranscript, req, &resp); err != nil {
			return err
		}
		cursor = max(cursor, resp.Cursor)
		start := after
		for _, tf := range resp.Frames {
			f, err := frame.Decode(tf.Frame)
			if err != nil {
				a.log.Warn("skipping malformed transcript frame", "session_id", id, "err", err)
				continue
			}
			if f.Seq <= after {
				continue
			}
			after = f.Seq
			switch f.Type {
			case frame.Stdout, frame.Stderr:
				if !o.raw && !prev.IsZero() {
					if err := pause(ctx, min(time.Duration(float64(tf.Time.Sub(prev))/o.speed), o.idleLimit)); err != nil {
						return err
					}
				}
				prev = tf.Time
				w := a.stdout
				if f.Type == frame.Stderr {
					w = a.stderr
				}
				if _, err := w.Write(f.Payload); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
			case frame.Error:
				if msg, err := frame.DecodeText(f.Payload); err == nil {
					fmt.Fprintln(a.stderr, msg)
				}
			}
		}
		if resp.Complete {
			return nil
		}
		if after == start {
			if len(resp.Frames) > 0 {
				return fmt.Errorf("transcript of %s: no readable frame after %d", id, after)
			}
			// The session is still running: wait for more output.
			if err := pause(ctx, playPoll); err != nil {
				return err
			}
		}
	}
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
