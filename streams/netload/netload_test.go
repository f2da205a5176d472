package netload

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/polltest"
)

func start(t *testing.T, newServer func(string) (*Server, error)) *Server {
	t.Helper()
	s, err := newServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestUploadDownload(t *testing.T) {
	ctx := context.Background()
	sink, source := start(t, NewSink), start(t, NewSource)
	for _, conns := range []int{1, 8} {
		const total = 8<<20 + 13 // not a multiple of the connections or the buffer
		r, err := Upload(ctx, sink.Addr(), conns, total)
		if err != nil {
			t.Fatalf("upload over %d connections: %v", conns, err)
		}
		if r.Bytes != total || r.MBps() <= 0 {
			t.Errorf("upload over %d connections: %+v", conns, r)
		}
		r, err = Download(ctx, source.Addr(), conns, total)
		if err != nil {
			t.Fatalf("download over %d connections: %v", conns, err)
		}
		if r.Bytes != total || r.MBps() <= 0 {
			t.Errorf("download over %d connections: %+v", conns, r)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	echo := start(t, NewEcho)
	for _, size := range []int{1, 64, 300 << 10} {
		rtts, err := RoundTrips(context.Background(), echo.Addr(), 3, 20, size)
		if err != nil {
			t.Fatalf("%d-byte round trips: %v", size, err)
		}
		if got, want := len(rtts), 20; got != want {
			t.Errorf("%d-byte round trips: got %d durations, want %d", size, got, want)
		}
	}
}

// A short transfer is an error, not a figure: a sink that stops early.
func TestUploadShortIsError(t *testing.T) {
	early, err := Listen("127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 1000)
		_, _ = c.Read(buf)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { early.Close() })
	if _, err := Upload(context.Background(), early.Addr(), 2, 4<<20); err == nil {
		t.Fatal("upload to a sink that hangs up early: no error")
	}
}

// Close ends connections still open and returns.
func TestCloseEndsOpenConnections(t *testing.T) {
	echo, err := NewEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", echo.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	polltest.Returns(t, 10*time.Second, "Close with a connection open", func() { echo.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after Close")
	}
	if err := echo.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
