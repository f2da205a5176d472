package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// recordCost measures what "nothing is shown that is not recorded" costs, on its own: a
// frame that reaches its reader through the transcript stream's RePublish (stored on
// disk first, as every frame reaches a Tether client) beside the same frame on a plain
// NATS subject (shown, never stored). One embedded nats-server with the broker's own
// stream definitions (file storage under dir); the publisher keeps at most one credit
// window ahead of the reader, as an agent does. Rows: keystroke-sized frame round trips
// (p50, p99) and 32 KiB frame throughput, the plain subject as the reference.
func recordCost(ctx context.Context, dir string, rtts int, size int64) ([]row, error) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: filepath.Join(dir, "record-cost"), NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		return nil, errors.New("record cost: nats-server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		return nil, err
	}
	if _, err := jsdef.Ensure(ctx, js, jsdef.Limits{}); err != nil {
		return nil, err
	}
	type path struct {
		pub, sub string
		send     func(subject string, data []byte) error
	}
	recorded := path{
		pub: subjects.ForSession("bench", "bench", "bench-0001").Out,
		sub: accounts.LiveOut("bench", "bench", "bench-0001"),
		send: func(s string, d []byte) error {
			_, err := js.PublishAsync(s, d)
			return err
		},
	}
	plain := path{pub: "bench.plain.out", sub: "bench.plain.out", send: nc.Publish}

	var rows []row
	var rtt [2]percentiles
	var tput [2]float64
	for i, p := range []path{recorded, plain} {
		vals, err := frameRTT(ctx, nc, p.pub, p.sub, p.send, rtts)
		if err != nil {
			return nil, err
		}
		rtt[i] = summarize(vals)
		if tput[i], err = frameThroughput(ctx, nc, p.pub, p.sub, p.send, size); err != nil {
			return nil, err
		}
	}
	src := "same frames on a plain NATS subject (shown, not stored)"
	add := func(metric, unit string, higher bool, tv, rv float64) {
		r := row{Metric: metric, Unit: unit, Tether: tv, Reference: rv, RefSource: src, Higher: higher}
		if higher {
			r.Ratio = tv / rv
		} else {
			r.Ratio = rv / tv
		}
		rows = append(rows, r)
	}
	add("frame RTT p50, stored before shown", "µs", false, rtt[0].p50, rtt[1].p50)
	add("frame RTT p99, stored before shown", "µs", false, rtt[0].p99, rtt[1].p99)
	add("32 KiB frames, stored before shown", "MB/s", true, tput[0], tput[1])
	return rows, nil
}

// frameRTT publishes n one-byte frames one at a time and times each until its reader has
// it, in µs.
func frameRTT(ctx context.Context, nc *nats.Conn, pub, sub string, send func(string, []byte) error, n int) ([]float64, error) {
	ch := make(chan struct{}, 1)
	s, err := nc.Subscribe(sub, func(*nats.Msg) { ch <- struct{}{} })
	if err != nil {
		return nil, err
	}
	defer s.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	out := make([]float64, 0, n)
	for i := range n {
		data := frame.Encode(frame.Frame{Type: frame.Stdout, Seq: uint64(i + 1), Payload: []byte{'x'}})
		t0 := time.Now()
		if err := send(pub, data); err != nil {
			return nil, err
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("record cost: frame %d on %s never arrived", i+1, sub)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		out = append(out, us(time.Since(t0)))
	}
	return out, nil
}

// frameThroughput sends size bytes in 32 KiB frames, at most a credit window ahead of the
// reader, and returns MB/s from the first send to the last byte read.
func frameThroughput(ctx context.Context, nc *nats.Conn, pub, sub string, send func(string, []byte) error, size int64) (float64, error) {
	const chunk = 32 << 10
	var got atomic.Int64
	wake := make(chan struct{}, 1)
	s, err := nc.Subscribe(sub, func(m *nats.Msg) {
		got.Add(int64(len(m.Data) - frame.HeaderLen))
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return 0, err
	}
	defer s.Unsubscribe()
	if err := s.SetPendingLimits(-1, 256<<20); err != nil {
		return 0, err
	}
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	payload := make([]byte, chunk)
	t0 := time.Now()
	var sent int64
	wait := func(until func() bool) error {
		for !until() {
			select {
			case <-wake:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("record cost: %d of %d bytes arrived on %s", got.Load(), sent, sub)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	for seq := uint64(1); sent < size; seq++ {
		if err := wait(func() bool { return sent-got.Load() <= frame.DefaultWindow }); err != nil {
			return 0, err
		}
		if err := send(pub, frame.Encode(frame.Frame{Type: frame.Stdout, Seq: seq, Payload: payload})); err != nil {
			return 0, err
		}
		sent += chunk
	}
	if err := wait(func() bool { return got.Load() >= sent }); err != nil {
		return 0, err
	}
	return mbps(sent, time.Since(t0)), nil
}
