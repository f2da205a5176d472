package agent

import (
	"context"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tetherhq/tether/agent/limits"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/fwd"
)

// link joins two Muxes in memory, each frame delivered in order by a goroutine of its own,
// as a NATS subscription delivers them.
func link(t *testing.T, cfgA, cfgB fwd.Config) (a, b *fwd.Mux) {
	toA, toB := make(chan frame.Frame, 1024), make(chan frame.Frame, 1024)
	done := make(chan struct{})
	sender := func(ch chan frame.Frame) fwd.Sender {
		return func(t frame.Type, flags uint8, buf []byte) error {
			select {
			case ch <- frame.Frame{Type: t, Flags: flags, Payload: append([]byte(nil), buf[frame.HeaderLen:]...)}:
			case <-done:
			}
			return nil
		}
	}
	cfgA.Send, cfgB.Send = sender(toB), sender(toA)
	a, b = fwd.NewMux(cfgA), fwd.NewMux(cfgB)
	pump := func(ch chan frame.Frame, m *fwd.Mux) {
		for {
			select {
			case f := <-ch:
				_ = m.Handle(f)
			case <-done:
				return
			}
		}
	}
	go pump(toA, a)
	go pump(toB, b)
	t.Cleanup(func() {
		a.Close("over")
		b.Close("over")
		synctest.Wait()
		close(done)
	})
	return a, b
}

// idleScene is a tunnel whose agent side touches an idle watch with every data frame, as
// a forwarding session's does (newSession: OnData is the watch's Touch).
func idleScene(t *testing.T, lim limits.Limits) (client *fwd.Conn, expired <-chan string, since func() time.Duration) {
	t.Helper()
	w := limits.New(lim)
	ch := make(chan string, 1)
	client0, _ := link(t, fwd.Config{}, fwd.Config{
		OnData: w.Touch,
		Accept: func(c *fwd.Conn, o fwd.Open) {
			local, remote := net.Pipe()
			go func() { _, _ = io.Copy(io.Discard, remote) }()
			if c.Accept() == nil {
				fwd.Splice(c, local)
			}
		},
	})
	start := time.Now()
	w.Start(func(reason string) { ch <- reason })
	t.Cleanup(w.Close)
	c, err := client0.Open(context.Background(), 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c, ch, func() time.Duration { return time.Since(start) }
}

// A tunnel that carries bytes is never cut by the idle timeout; once only keepalives
// flow (they never reach the Mux), it is cut one idle timeout after its last byte.
func TestForwardIdleCountsBytesNotKeepalives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, expired, since := idleScene(t, limits.Limits{Idle: 10 * time.Minute})
		for range 12 { // an hour of a byte every five minutes
			time.Sleep(5 * time.Minute)
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			select {
			case r := <-expired:
				t.Fatalf("cut (%s) after %v of traffic", r, since())
			default:
			}
		}
		last := since()
		r := <-expired
		if r != api.ReasonIdleTimeout || since()-last != 10*time.Minute {
			t.Fatalf("ended %s %v after the last byte, want %s after 10m", r, since()-last, api.ReasonIdleTimeout)
		}
	})
}

// maxSessionDuration ends a busy tunnel all the same.
func TestForwardMaxDurationEndsBusyTunnel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, expired, since := idleScene(t, limits.Limits{Idle: 10 * time.Minute, Max: 2 * time.Hour})
		for {
			select {
			case r := <-expired:
				if r != api.ReasonMaxDuration || since() != 2*time.Hour {
					t.Fatalf("ended %s after %v, want %s after 2h", r, since(), api.ReasonMaxDuration)
				}
				return
			default:
			}
			time.Sleep(time.Minute)
			if _, err := c.Write([]byte("busy")); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
	})
}
