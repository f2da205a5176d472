package fwd

import (
	"context"
	"testing"

	"github.com/tetherhq/tether/streams/netload"
)

// BenchmarkThroughput sends through a client and agent Mux joined by an in-process NATS
// server to a TCP sink: the Mux's own cost, without a broker's accounts or the CLI.
func BenchmarkThroughput(b *testing.B) {
	p := newPair(b, Config{}, serve(b, netload.Sink))
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
