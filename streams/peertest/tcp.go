package peertest

import (
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/tetherhq/tether/streams/netload"
)

// StartEcho starts a TCP echo server on 127.0.0.1 (it half-closes after the client
// does: see netload.Echo), closed by t.Cleanup. Addr() is its address.
func StartEcho(t testing.TB) *netload.Server { return startNetload(t, "echo", netload.NewEcho) }

// StartSink starts a TCP sink on 127.0.0.1: it counts what a connection sends until EOF
// and answers with the count (netload.Sink, netload.Upload).
func StartSink(t testing.TB) *netload.Server { return startNetload(t, "sink", netload.NewSink) }

// StartSource starts a TCP source on 127.0.0.1: it sends as many bytes as a connection
// asks for (netload.Source, netload.Download).
func StartSource(t testing.TB) *netload.Server {
	return startNetload(t, "source", netload.NewSource)
}

func startNetload(t testing.TB, what string, start func(string) (*netload.Server, error)) *netload.Server {
	t.Helper()
	s, err := start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// dialOK succeeds once something accepts TCP connections at addr.
func dialOK(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// RefusingAddr returns a 127.0.0.1 address whose connections are refused, for as long
// as the test runs: a socket holds the port, bound but not listening, so no other
// program can take the port between the test choosing it and dialling it (as one can
// a port picked by listening and closing).
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
