package netload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Server serves each accepted connection with a handler, until Close.
type Server struct {
	ln     net.Listener
	handle func(net.Conn)

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen listens on addr ("127.0.0.1:0" for a free loopback port) and serves every
// connection with handle, which need not close it.
func Listen(addr string, handle func(net.Conn)) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return Serve(ln, handle), nil
}

// Serve serves every connection ln accepts (a unix socket's, say) with handle; Close
// closes ln.
func Serve(ln net.Listener, handle func(net.Conn)) *Server {
	s := &Server{ln: ln, handle: handle, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s
}

// NewEcho, NewSink and NewSource listen on addr with Echo, Sink and Source.
func NewEcho(addr string) (*Server, error)   { return Listen(addr, Echo) }
func NewSink(addr string) (*Server, error)   { return Listen(addr, Sink) }
func NewSource(addr string) (*Server, error) { return Listen(addr, Source) }

// Addr is the listening address: host:port, or a unix socket's path.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops listening, closes every open connection and waits for their handlers.
// Closing twice does nothing more.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// bufSize is the copy buffer of every server and client: large, as bulk paths use.
const bufSize = 256 << 10

// Echo writes back everything it reads; at EOF it shuts its write side, so a client that
// half-closes still reads the whole echo.
func Echo(c net.Conn) {
	_, _ = io.CopyBuffer(c, c, make([]byte, bufSize))
	closeWrite(c)
}

// Sink reads until EOF, then writes the number of bytes it read (8 bytes, big-endian) and
// closes: a client that half-closes learns how much arrived.
func Sink(c net.Conn) {
	n, err := io.CopyBuffer(io.Discard, onlyReader{c}, make([]byte, bufSize))
	if err != nil {
		return
	}
	_ = binary.Write(c, binary.BigEndian, uint64(n))
}

// Source reads a size (8 bytes, big-endian), writes that many bytes of a fixed pattern and
// closes. A connection that ends before sending a size gets nothing.
func Source(c net.Conn) {
	var size uint64
	if err := binary.Read(c, binary.BigEndian, &size); err != nil {
		return
	}
	buf := pattern()
	for left := int64(size); left > 0; {
		n, err := c.Write(buf[:min(int64(len(buf)), left)])
		left -= int64(n)
		if err != nil {
			return
		}
	}
	closeWrite(c)
}

var (
	patternOnce sync.Once
	patternBuf  []byte
)

// pattern is a bufSize block of non-zero bytes, written over and over by Source and Upload.
func pattern() []byte {
	patternOnce.Do(func() {
		patternBuf = make([]byte, bufSize)
		for i := range patternBuf {
			patternBuf[i] = byte(i*7 + i>>8 + 1)
		}
	})
	return patternBuf
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// onlyReader hides a conn's WriteTo/ReadFrom so that io.Copy uses the buffer given
// (TCPConn.WriteTo to io.Discard would otherwise splice with a small buffer).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

var errShort = errors.New("short transfer")
