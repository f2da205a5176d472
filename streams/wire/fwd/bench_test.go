package fwd

import (
	"context"
	"io"
	"net"
	"testing"
)

// BenchmarkThroughput sends through a client and agent Mux joined by an in-process NATS
// server to a TCP sink: the Mux's own cost, without a broker's accounts or the CLI.
func BenchmarkThroughput(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	p := newPair(b, Config{}, l.Addr().String())
	c, err := p.client.Open(context.Background(), 0, "bench")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.CloseWrite()
	<-p.ended
}
