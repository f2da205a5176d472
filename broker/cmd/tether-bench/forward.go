package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/tetherhq/tether/streams/netload"
)

// The port-forwarding section: the same loopback destinations (a sink, a source and an
// echo server from streams/netload, in this process) reached four ways, each metric
// measured on every way back to back so that load from other work weighs on all alike:
//
//   - direct: TCP straight to the destination, the ceiling;
//   - ssh -L: `ssh -N -L` through the temporary sshd, aes128-gcm, the reference;
//   - NATS relay: Tether's path without Tether (relay.go): the floor of its design;
//   - tether forward: through Tether (tetherForward, the one place to plug it in).
//
// Then scp of a large file through plain ssh and through `tether ssh-proxy`
// (tetherSSHProxy).

// forwarder makes a local address that forwards to dest (host:port), and a function
// that stops forwarding. It is what each way of reaching the destinations supplies.
type forwarder func(ctx context.Context, dest string) (local string, stop func(), err error)

// errNotMeasured marks a way that cannot be measured in this build; its message says why
// and is printed instead of a figure.
var errNotMeasured = errors.New("not measured")

// notMeasured is an errNotMeasured saying why.
func notMeasured(format string, args ...any) error {
	return fmt.Errorf("%w (%s)", errNotMeasured, fmt.Sprintf(format, args...))
}

// way is one way of reaching the destinations, opened once for the whole section.
type way struct {
	name               string
	open               forwarder
	sink, source, echo string // local addresses forwarding to each destination
	why                string // not measured: why; "" when measured
	failed             bool   // opening failed (in rep.Errors)
}

// fwdFigures are one way's measurements; zero with an error where one failed.
type fwdFigures struct {
	up1, up8, down1, down8 float64 // MB/s
	rtt                    percentiles
	errs                   map[string]error
}

func (f *fwdFigures) set(metric string, err error) {
	if err != nil {
		f.errs[metric] = err
	}
}

// fwdRow is one line of the forwarding table. Ratios > 1 mean the first named is better.
type fwdRow struct {
	Metric      string  `json:"metric"`
	Unit        string  `json:"unit"`
	Higher      bool    `json:"higher_is_better"`
	Tether      float64 `json:"tether_forward,omitempty"`
	Relay       float64 `json:"nats_relay,omitempty"`
	SSH         float64 `json:"ssh_l,omitempty"`
	Direct      float64 `json:"direct,omitempty"`
	TetherSSH   float64 `json:"tether_vs_ssh,omitempty"`
	TetherRelay float64 `json:"tether_vs_relay,omitempty"`
	RelaySSH    float64 `json:"relay_vs_ssh,omitempty"`
	TetherDir   float64 `json:"tether_vs_direct,omitempty"`
	SSHDir      float64 `json:"ssh_vs_direct,omitempty"`
	// What stands where a figure is missing: "not measured", "ERROR", "n/a".
	TetherNote string `json:"tether_forward_note,omitempty"`
	RelayNote  string `json:"nats_relay_note,omitempty"`
	SSHNote    string `json:"ssh_l_note,omitempty"`
	DirectNote string `json:"direct_note,omitempty"`
}

// forwardSection measures every way and returns the table's rows. Failed measurements
// are in rep.Errors; ways that cannot be measured are in rep.Notes.
func forwardSection(ctx context.Context, o options, rep *report, dir string, cl *cleanups,
	t *tether, s *sshEnv, logf func(string, ...any)) []fwdRow {
	sink, err1 := netload.NewSink("127.0.0.1:0")
	source, err2 := netload.NewSource("127.0.0.1:0")
	echo, err3 := netload.NewEcho("127.0.0.1:0")
	for _, srv := range []*netload.Server{sink, source, echo} {
		if srv != nil {
			cl.add(func() { srv.Close() })
		}
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		rep.fail("forwarding: start the destinations", err)
		return nil
	}

	var relay *natsRelay
	ways := []*way{
		{name: "tether forward", open: func(ctx context.Context, dest string) (string, func(), error) {
			return tetherForward(ctx, o.bin, t, dest)
		}},
		{name: "NATS relay", open: func(ctx context.Context, dest string) (string, func(), error) {
			if relay == nil {
				r, err := startRelay(ctx, filepath.Join(dir, "relay"), cl)
				if err != nil {
					return "", nil, err
				}
				relay = r
			}
			return relay.forward(ctx, dest)
		}},
		{name: "ssh -L", open: func(ctx context.Context, dest string) (string, func(), error) {
			if s == nil {
				return "", nil, notMeasured("no live ssh")
			}
			return s.forward(ctx, filepath.Join(dir, "ssh"), dest)
		}},
		{name: "direct", open: func(_ context.Context, dest string) (string, func(), error) {
			return dest, func() {}, nil
		}},
	}
	for _, w := range ways {
		logf("forwarding: opening %s to the sink, source and echo servers", w.name)
		for _, d := range []struct {
			dest string
			into *string
		}{{sink.Addr(), &w.sink}, {source.Addr(), &w.source}, {echo.Addr(), &w.echo}} {
			local, stop, err := w.open(ctx, d.dest)
			if errors.Is(err, errNotMeasured) {
				w.why = err.Error()
				rep.note("%s: %s", w.name, w.why)
				break
			}
			if err != nil {
				w.failed = true
				rep.fail(fmt.Sprintf("forwarding: %s to %s", w.name, d.dest), err)
				break
			}
			cl.add(stop)
			*d.into = local
		}
	}

	size := int64(o.fwdSizeMiB) << 20
	figs := make([]fwdFigures, len(ways))
	for i := range figs {
		figs[i].errs = map[string]error{}
	}
	each := func(what string, f func(w *way, fig *fwdFigures)) {
		for i, w := range ways {
			if w.why != "" || w.failed || ctx.Err() != nil {
				continue
			}
			logf("forwarding: %s: %s", w.name, what)
			f(w, &figs[i])
		}
	}
	bulk := func(metric string, conns int, load func(context.Context, string, int, int64) (netload.Result, error),
		addr func(*way) string, into func(*fwdFigures) *float64) {
		each(fmt.Sprintf("%s, %d MiB over %d connection(s), median of 3", metric, o.fwdSizeMiB, conns), func(w *way, f *fwdFigures) {
			var cpu cpuMeter
			switch {
			case w == ways[0] && t != nil:
				cpu = t.forwardCPU()
			case w == ways[1] && relay != nil:
				cpu = relay.cpu()
			}
			v, err := median3(ctx, func() (float64, error) {
				r, err := load(ctx, addr(w), conns, size)
				return r.MBps(), err
			})
			*into(f) = v
			f.set(metric, err)
			if cpu != nil && err == nil {
				rep.note("%s CPU, %s over %d connection(s): %s", w.name, metric, conns, cpu())
			}
		})
	}
	bulk("up1", 1, netload.Upload, func(w *way) string { return w.sink }, func(f *fwdFigures) *float64 { return &f.up1 })
	bulk("up8", 8, netload.Upload, func(w *way) string { return w.sink }, func(f *fwdFigures) *float64 { return &f.up8 })
	bulk("down1", 1, netload.Download, func(w *way) string { return w.source }, func(f *fwdFigures) *float64 { return &f.down1 })
	bulk("down8", 8, netload.Download, func(w *way) string { return w.source }, func(f *fwdFigures) *float64 { return &f.down8 })
	each(fmt.Sprintf("%d echo round trips of %d bytes", o.fwdRTT, o.fwdRTTSize), func(w *way, f *fwdFigures) {
		rtts, err := netload.RoundTrips(ctx, w.echo, 200, o.fwdRTT, o.fwdRTTSize)
		vals := make([]float64, len(rtts))
		for i, d := range rtts {
			vals[i] = us(d)
		}
		f.rtt = summarize(vals)
		f.set("rtt", err)
	})

	// Rows: tether forward, ssh -L and direct side by side.
	var rows []fwdRow
	reported := map[string]bool{} // p50 and p99 share one measurement: one error
	cell := func(w *way, f *fwdFigures, key string, v float64) (float64, string) {
		switch {
		case w.why != "":
			return 0, "not measured"
		case w.failed:
			return 0, "ERROR"
		case f.errs[key] != nil:
			if what := fmt.Sprintf("forwarding: %s %s", w.name, key); !reported[what] {
				reported[what] = true
				rep.fail(what, f.errs[key])
			}
			return 0, "ERROR"
		}
		return v, ""
	}
	add := func(metric, unit string, higher bool, key string, get func(*fwdFigures) float64) {
		r := fwdRow{Metric: metric, Unit: unit, Higher: higher}
		r.Tether, r.TetherNote = cell(ways[0], &figs[0], key, get(&figs[0]))
		r.Relay, r.RelayNote = cell(ways[1], &figs[1], key, get(&figs[1]))
		r.SSH, r.SSHNote = cell(ways[2], &figs[2], key, get(&figs[2]))
		r.Direct, r.DirectNote = cell(ways[3], &figs[3], key, get(&figs[3]))
		r.TetherSSH, r.TetherDir, r.SSHDir = ratio(r.Tether, r.SSH, higher), ratio(r.Tether, r.Direct, higher), ratio(r.SSH, r.Direct, higher)
		r.TetherRelay, r.RelaySSH = ratio(r.Tether, r.Relay, higher), ratio(r.Relay, r.SSH, higher)
		rows = append(rows, r)
	}
	add("bulk to dest, 1 connection", "MB/s", true, "up1", func(f *fwdFigures) float64 { return f.up1 })
	add("bulk to dest, 8 connections", "MB/s", true, "up8", func(f *fwdFigures) float64 { return f.up8 })
	add("bulk from dest, 1 connection", "MB/s", true, "down1", func(f *fwdFigures) float64 { return f.down1 })
	add("bulk from dest, 8 connections", "MB/s", true, "down8", func(f *fwdFigures) float64 { return f.down8 })
	add(fmt.Sprintf("echo RTT p50, %d B", o.fwdRTTSize), "µs", false, "rtt", func(f *fwdFigures) float64 { return f.rtt.p50 })
	add(fmt.Sprintf("echo RTT p99, %d B", o.fwdRTTSize), "µs", false, "rtt", func(f *fwdFigures) float64 { return f.rtt.p99 })
	rep.note("forwarding: %d MiB per bulk run (median of 3), split over the connections, byte counts checked; %d echo round trips after 200 unmeasured, one connection; destinations are Go servers in the harness's process on 127.0.0.1", o.fwdSizeMiB, o.fwdRTT)

	return append(rows, scpSection(ctx, o, rep, dir, cl, t, s, logf)...)
}

// scpSide is one way of running scp.
type scpSide struct {
	name     string
	proxy    string // ProxyCommand; "" for plain ssh
	why      string // not measured: why
	failed   bool
	up, down float64 // MB/s
	upErr    error
	downErr  error
}

// scpSection copies a file up and down with scp through plain ssh (the reference),
// through `tether ssh-proxy` (tetherSSHProxy), and through a ProxyCommand that only copies
// bytes to sshd's port (what a ProxyCommand costs ssh by itself, Tether or not), median of
// 3 each.
func scpSection(ctx context.Context, o options, rep *report, dir string, cl *cleanups,
	t *tether, s *sshEnv, logf func(string, ...any)) []fwdRow {
	tsp, ssh := &scpSide{name: "tether ssh-proxy"}, &scpSide{name: "ssh"}
	plain := &scpSide{name: "a plain ProxyCommand"}
	switch {
	case s == nil:
		tsp.why, ssh.why, plain.why = "no live ssh", "no live ssh", "no live ssh"
	default:
		if exe, err := os.Executable(); err != nil {
			plain.why = err.Error()
		} else {
			plain.proxy = fmt.Sprintf("env %s=127.0.0.1:%d %s", tcpProxyEnv, s.port, exe)
		}
		proxy, stop, err := tetherSSHProxy(ctx, o.bin, t)
		switch {
		case errors.Is(err, errNotMeasured):
			tsp.why = err.Error()
			rep.note("tether ssh-proxy: %s", tsp.why)
		case err != nil:
			tsp.failed = true
			rep.fail("scp: tether ssh-proxy", err)
		default:
			cl.add(stop)
			tsp.proxy = proxy
		}
		file := filepath.Join(dir, "scp-src.bin")
		logf("scp: writing %d MiB of random data", o.scpSizeMiB)
		if err := writeRandomFile(file, int64(o.scpSizeMiB)<<20); err != nil {
			rep.fail("scp: write the file", err)
			tsp.failed, ssh.failed, plain.failed = true, true, true
		}
		for _, up := range []bool{true, false} {
			for _, side := range []*scpSide{tsp, ssh, plain} {
				if side.why != "" || side.failed || ctx.Err() != nil {
					continue
				}
				what := map[bool]string{true: "upload", false: "download"}[up]
				logf("scp: %s %d MiB via %s, median of 3", what, o.scpSizeMiB, side.name)
				v, err := median3(ctx, func() (float64, error) { return s.scp(ctx, dir, file, side.proxy, up) })
				if up {
					side.up, side.upErr = v, err
				} else {
					side.down, side.downErr = v, err
				}
			}
		}
		rep.note("scp: median of 3, each a new ssh connection (its start-up, ~0.2 s, included), aes128-gcm, the copy's size checked")
		switch {
		case plain.upErr != nil || plain.downErr != nil:
			rep.fail("scp via a plain ProxyCommand", errors.Join(plain.upErr, plain.downErr))
		case plain.why == "" && !plain.failed && plain.up > 0 && plain.down > 0:
			msg := fmt.Sprintf("scp through a plain ProxyCommand (this harness copying stdin and stdout to sshd's port, as nc would; no Tether): "+
				"%.3g MB/s up, %.3g down, %.2fx and %.2fx of plain ssh", plain.up, plain.down, ratio(plain.up, ssh.up, true), ratio(plain.down, ssh.down, true))
			if tsp.up > 0 && tsp.down > 0 {
				msg += fmt.Sprintf("; tether ssh-proxy is %.2fx and %.2fx of it", ratio(tsp.up, plain.up, true), ratio(tsp.down, plain.down, true))
			}
			rep.note("%s", msg)
		}
	}
	cell := func(side *scpSide, v float64, err error, what string) (float64, string) {
		switch {
		case side.why != "":
			return 0, "not measured"
		case side.failed:
			return 0, "ERROR"
		case err != nil:
			rep.fail(fmt.Sprintf("scp %s via %s", what, side.name), err)
			return 0, "ERROR"
		}
		return v, ""
	}
	var rows []fwdRow
	for _, up := range []bool{true, false} {
		what := map[bool]string{true: "upload", false: "download"}[up]
		r := fwdRow{Metric: fmt.Sprintf("scp %d MiB %s (tether: ssh-proxy)", o.scpSizeMiB, what), Unit: "MB/s", Higher: true, RelayNote: "n/a", DirectNote: "n/a"}
		if up {
			r.Tether, r.TetherNote = cell(tsp, tsp.up, tsp.upErr, what)
			r.SSH, r.SSHNote = cell(ssh, ssh.up, ssh.upErr, what)
		} else {
			r.Tether, r.TetherNote = cell(tsp, tsp.down, tsp.downErr, what)
			r.SSH, r.SSHNote = cell(ssh, ssh.down, ssh.downErr, what)
		}
		r.TetherSSH = ratio(r.Tether, r.SSH, true)
		rows = append(rows, r)
	}
	return rows
}

// cpuMeter reports the CPU used since it was made.
type cpuMeter func() string

// forwardCPU measures the broker, the agent and the `tether forward` processes from now,
// as shares of one core over the wall time.
func (t *tether) forwardCPU() cpuMeter {
	clis := func() (sum float64) {
		for _, pid := range t.forwardCLIs {
			sum += cpuSeconds(pid)
		}
		return sum
	}
	b0, a0, c0, t0 := cpuSeconds(t.broker.cmd.Process.Pid), cpuSeconds(t.agent.cmd.Process.Pid), clis(), time.Now()
	return func() string {
		w := time.Since(t0).Seconds()
		return fmt.Sprintf("broker %.0f%%, agent %.0f%%, tether forward %.0f%% of a core (the harness's own load and sink not counted)",
			100*(cpuSeconds(t.broker.cmd.Process.Pid)-b0)/w, 100*(cpuSeconds(t.agent.cmd.Process.Pid)-a0)/w, 100*(clis()-c0)/w)
	}
}

// printForwarding prints the forwarding rows: the four ways side by side, then the
// ratios between them.
func printForwarding(w io.Writer, rows []fwdRow) {
	fmt.Fprintln(w, "\nPort forwarding, the same destinations four ways in the same run")
	fmt.Fprintln(w, "ratio A/B > 1 means A is better (throughput: A/B; latency: B/A)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tunit\ttether forward\tNATS relay\tssh -L\tdirect\ttether/ssh -L\ttether/relay\trelay/ssh -L\ttether/direct\tssh -L/direct")
	cell := func(v float64, note string) string {
		if note != "" {
			return note
		}
		return num(v)
	}
	r2 := func(v float64) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", v)
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Metric, r.Unit, cell(r.Tether, r.TetherNote),
			cell(r.Relay, r.RelayNote), cell(r.SSH, r.SSHNote), cell(r.Direct, r.DirectNote),
			r2(r.TetherSSH), r2(r.TetherRelay), r2(r.RelaySSH), r2(r.TetherDir), r2(r.SSHDir))
	}
	_ = tw.Flush()
}

// ratio is a/b for throughput and b/a for latency: > 1 means a is better. 0 when either
// is missing.
func ratio(a, b float64, higher bool) float64 {
	switch {
	case a <= 0 || b <= 0:
		return 0
	case higher:
		return a / b
	}
	return b / a
}

// waitDial waits until something accepts TCP connections at addr, or exited reports an
// error, or d passes.
func waitDial(ctx context.Context, addr string, d time.Duration, exited func() error) error {
	deadline := time.Now().Add(d)
	for {
		if err := exited(); err != nil {
			return err
		}
		err := dialOnce(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nothing listening at %s after %v: %v", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
