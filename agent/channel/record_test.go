package channel

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/natstest"
	"github.com/tetherhq/tether/streams/wire/frame"
)

func TestRefused(t *testing.T) {
	store := func(desc string) error {
		return fmt.Errorf("record frame 9: %w", &jetstream.APIError{Code: 503, ErrorCode: errCodeStoreFailed, Description: desc})
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"stream at its byte limit", store("maximum bytes exceeded"), true},
		{"stream at its message limit", store("maximum messages exceeded"), true},
		{"subject at its limit", store("maximum messages per subject exceeded"), true},
		{"frame too large", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum, Description: "message size exceeds maximum allowed"}, true},
		{"no storage left", &jetstream.APIError{Code: 503, ErrorCode: errCodeInsufficientResources, Description: "insufficient resources"}, true},
		{"store closed for a moment", store("store is closed"), false},
		{"disconnected", nats.ErrDisconnected, false},
		{"timeout", context.DeadlineExceeded, false},
		{"no responders", jetstream.ErrNoStreamResponse, false},
		{"permissions", &jetstream.APIError{Code: 403, Description: "permissions violation"}, false},
		{"the broker's gate", &jetstream.APIError{Code: 403, Description: "refused: tether.s.web-1.alice.alice-1.out " + accounts.RefusedDescription}, true},
	} {
		if got := refused(tc.err); got != tc.want {
			t.Errorf("%s: refused(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// A stream at its limit refuses every frame that follows: the channel fails at once,
// rather than retrying for RecordTimeout while the process goes on printing what is not
// recorded. What the stream stored, up to the first frame it refused, is a prefix of the
// output. (Smaller frames already in flight behind a refused one may still fit: a reader
// stops at the gap, as a client does.)
func TestFullStreamFailsAtOnce(t *testing.T) {
	nc := natstest.Connect(t, &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: "T", Subjects: []string{subj.Out, subj.Rin}, MaxBytes: limit, Discard: jetstream.DiscardNew,
	}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(Config{Conn: nc, JS: js, SessionID: "s1", Subjects: subj, RecordTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	send(t, nc, 1, frame.Keepalive, nil)
	<-c.Attached()
	r, w := io.Pipe()
	defer w.Close()
	c.Bind(&proc{}, Output{Type: frame.Stdout, R: r})
	data := []byte(strings.Repeat("0123456789abcdef", 16<<10)) // 256 KiB, four times the stream
	go func() {
		for b := data; len(b) > 0; b = b[min(len(b), 1000):] {
			if _, err := w.Write(b[:min(len(b), 1000)]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	select {
	case <-c.Failed():
	case <-time.After(20 * time.Second):
		t.Fatal("the channel did not fail with the stream full")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the channel failed after %v; want at once (RecordTimeout is a minute)", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.CloseWithError(io.ErrClosedPipe)
	st := c.Finish(ctx, frame.ExitStatus{Code: -1, Reason: "recording_failed"})
	if st.Err == nil || !strings.Contains(st.Err.Error(), "maximum bytes exceeded") {
		t.Errorf("the channel's error: %v; want the stream's refusal", st.Err)
	}
	frames, _ := streamed(t, js, subj.Out)
	var out []byte
	for i, f := range frames {
		if f.Seq != uint64(i+1) {
			break
		}
		if f.Type == frame.Stdout {
			out = append(out, f.Payload...)
		}
	}
	if len(out) == 0 || len(out) >= len(data) || string(out) != string(data[:len(out)]) {
		t.Errorf("the stream holds %d bytes of output; want a prefix of the %d printed", len(out), len(data))
	}
}
