package netload

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sync/errgroup"
)

// Result is one bulk transfer: how many bytes crossed, over how long.
type Result struct {
	Bytes   int64
	Elapsed time.Duration
}

// MBps is the rate in MB (10^6 bytes) per second.
func (r Result) MBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds() / 1e6
}

// Upload opens conns connections to a Sink at addr together and sends total bytes spread
// over them; each half-closes and waits for the sink's count, which must match what it
// sent. The time runs from the first dial to the last count.
func Upload(ctx context.Context, addr string, conns int, total int64) (Result, error) {
	return bulk(ctx, addr, conns, total, upload)
}

// Download opens conns connections to a Source at addr together and asks each for its
// share of total bytes, reading each to EOF and checking the count.
func Download(ctx context.Context, addr string, conns int, total int64) (Result, error) {
	return bulk(ctx, addr, conns, total, download)
}

func bulk(ctx context.Context, addr string, conns int, total int64, one func(net.Conn, int64) error) (Result, error) {
	if conns < 1 || total < int64(conns) {
		return Result{}, fmt.Errorf("netload: %d bytes over %d connections", total, conns)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	t0 := time.Now()
	for i := range conns {
		share := total / int64(conns)
		if i == 0 {
			share += total % int64(conns)
		}
		g.Go(func() error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			if err := one(c, share); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("connection %d to %s: %w", i, addr, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	return Result{Bytes: total, Elapsed: time.Since(t0)}, nil
}

func upload(c net.Conn, n int64) error {
	buf := pattern()
	for left := n; left > 0; {
		w, err := c.Write(buf[:min(int64(len(buf)), left)])
		left -= int64(w)
		if err != nil {
			return fmt.Errorf("send: %w (%d of %d bytes sent)", err, n-left, n)
		}
	}
	closeWrite(c)
	var got uint64
	if err := binary.Read(c, binary.BigEndian, &got); err != nil {
		return fmt.Errorf("read the sink's count after sending %d bytes: %w", n, err)
	}
	if int64(got) != n {
		return fmt.Errorf("sink received %d bytes, sent %d: %w", got, n, errShort)
	}
	return nil
}

func download(c net.Conn, n int64) error {
	if err := binary.Write(c, binary.BigEndian, uint64(n)); err != nil {
		return fmt.Errorf("ask for %d bytes: %w", n, err)
	}
	got, err := io.CopyBuffer(io.Discard, onlyReader{c}, make([]byte, bufSize))
	if err != nil {
		return fmt.Errorf("receive: %w (%d of %d bytes)", err, got, n)
	}
	if got != n {
		return fmt.Errorf("received %d bytes, asked for %d: %w", got, n, errShort)
	}
	return nil
}

// RoundTrips makes warmup unmeasured and then n measured request/response round trips of
// size bytes each on one connection to an Echo at addr, and returns the n durations. Each
// response is checked byte for byte.
func RoundTrips(ctx context.Context, addr string, warmup, n, size int) ([]time.Duration, error) {
	if size < 1 || n < 1 || warmup < 0 {
		return nil, fmt.Errorf("netload: %d round trips of %d bytes", n, size)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	req, resp := make([]byte, size), make([]byte, size)
	rtts := make([]time.Duration, 0, n)
	for i := -warmup; i < n; i++ {
		for j := range req {
			req[j] = byte(i + j)
		}
		t0 := time.Now()
		if _, err := c.Write(req); err != nil {
			return nil, fmt.Errorf("round trip %d: write: %w", i, ctxErr(ctx, err))
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return nil, fmt.Errorf("round trip %d: read: %w", i, ctxErr(ctx, err))
		}
		d := time.Since(t0)
		if string(req) != string(resp) {
			return nil, fmt.Errorf("round trip %d: sent %x, got back %x", i, req, resp)
		}
		if i >= 0 {
			rtts = append(rtts, d)
		}
	}
	return rtts, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
