package clicmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tetherhq/tether/streams/secretfile"
	"github.com/tetherhq/tether/streams/ship/cast"
	"github.com/tetherhq/tether/streams/ship/seal"
	"github.com/tetherhq/tether/streams/wire/api"
)

// recordingReader reads a shipped recording's cast file through GetRecording, a page at a
// time as playback needs it, and checks it against the size and digest its metadata gives.
type recordingReader struct {
	ctx context.Context
	a   *app
	id  string
	rec api.Recording // from the first page

	buf []byte // the unread rest of the last page
	off int64  // bytes fetched so far
	eof bool   // the last page has been fetched
	sum hash.Hash
	err error // sticky: io.EOF once drained and checked, or the failure
}

// openRecording fetches the first page of session id's recording.
func (a *app) openRecording(ctx context.Context, id string) (*recordingReader, error) {
	r := &recordingReader{ctx: ctx, a: a, id: id, sum: sha256.New()}
	rec, err := r.fetch()
	if err != nil {
		return nil, err
	}
	r.rec = rec
	return r, nil
}

// fetch reads the page at r.off.
func (r *recordingReader) fetch() (api.Recording, error) {
	var resp api.GetRecordingResponse
	req := api.GetRecordingRequest{SessionID: r.id, Kind: api.RecordingCast, Offset: r.off}
	if err := r.a.call(r.ctx, api.VerbGetRecording, req, &resp); err != nil {
		if r.off == 0 {
			return api.Recording{}, err
		}
		return api.Recording{}, fmt.Errorf("read recording %s at byte %d: %w", r.id, r.off, err)
	}
	if len(resp.Data) == 0 && !resp.EOF {
		return api.Recording{}, fmt.Errorf("read recording %s at byte %d: empty page before the end", r.id, r.off)
	}
	r.buf, r.eof = resp.Data, resp.EOF
	r.off += int64(len(resp.Data))
	r.sum.Write(resp.Data)
	return resp.Recording, nil
}

func (r *recordingReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 && r.err == nil {
		if r.eof {
			r.err = r.check()
			break
		}
		if _, err := r.fetch(); err != nil {
			r.err = err
		}
	}
	if len(r.buf) == 0 {
		return 0, r.err
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// check compares what was read with the recording's metadata: io.EOF if it matches.
func (r *recordingReader) check() error {
	f, ok := r.rec.Files[api.RecordingCast]
	if !ok {
		return io.EOF
	}
	if f.Bytes > 0 && f.Bytes != r.off {
		return fmt.Errorf("recording %s: read %d bytes of its cast file, its metadata says %d", r.id, r.off, f.Bytes)
	}
	if got := hex.EncodeToString(r.sum.Sum(nil)); f.SHA256 != "" && !strings.EqualFold(got, f.SHA256) {
		return fmt.Errorf("recording %s: cast file has sha256 %s, its metadata says %s", r.id, got, f.SHA256)
	}
	return io.EOF
}

// playRecording plays a shipped recording: its output events, with the same window and
// timing as the stream.
func (a *app) playRecording(ctx context.Context, rr *recordingReader, o playOptions) error {
	id := rr.id
	src := io.Reader(rr)
	if rr.rec.Encryption == "age" {
		if o.identity == "" {
			return fmt.Errorf("recording %s is encrypted to age recipients %s; pass --identity FILE",
				id, strings.Join(rr.rec.Recipients, ", "))
		}
		key, err := secretfile.Read(o.identity, "age identity")
		if err != nil {
			return err
		}
		if src, err = seal.Decrypt(rr, bytes.NewReader(key)); err != nil {
			if rr.err != nil && !errors.Is(rr.err, io.EOF) {
				return rr.err
			}
			if errors.Is(err, seal.ErrNoIdentityMatch) {
				return fmt.Errorf("recording %s: no identity in %s is one of its age recipients %s",
					id, o.identity, strings.Join(rr.rec.Recipients, ", "))
			}
			return fmt.Errorf("recording %s, identity %s: %w", id, o.identity, err)
		}
	}
	cr, err := cast.NewReader(src)
	if err != nil {
		return fmt.Errorf("read recording %s: %w", id, err)
	}
	p := newPlayer(o)
	for {
		ev, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if rr.err != nil && !errors.Is(rr.err, io.EOF) {
				return rr.err // fetching or checking the file failed: say so, once
			}
			return fmt.Errorf("read recording %s: %w", id, err)
		}
		if ev.Code != "o" {
			continue
		}
		if done, err := p.output(ctx, seconds(ev.Time), a.stdout, []byte(ev.Data)); done || err != nil {
			return err
		}
	}
	// The cast reader stops at the end of its input; make sure that end checked out.
	if rr.err != nil && !errors.Is(rr.err, io.EOF) {
		return rr.err
	}
	return nil
}

// seconds converts a cast event time.
func seconds(s float64) time.Duration {
	if math.IsNaN(s) || s < 0 {
		return 0
	}
	return time.Duration(min(s*float64(time.Second), 1<<62))
}
