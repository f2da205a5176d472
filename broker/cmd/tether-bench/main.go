// Command tether-bench is Tether's end-to-end benchmark harness. It starts a real
// tether-broker and tether-agent as subprocesses on loopback, like a small deployment,
// and measures with a client in its own process:
//
//   - session start latency: StartSession of `true`, attach, Exit received (p50/p90/p99),
//     both with a connected client and as a fresh `tether start-session` process;
//   - bulk output throughput: `cat` of a file of random data, and `head -c 1G /dev/zero`
//     (median of 3 runs, byte counts checked);
//   - keystroke echo round trips through the session's PTY running `cat` in raw mode,
//     both from the in-process client and from the tether CLI driven through a PTY;
//   - what "nothing is shown that is not recorded" costs: frames stored in the transcript
//     stream before their reader sees them, beside the same frames on a plain subject;
//   - port forwarding (forward.go): bulk TCP throughput each way over 1 and 8 connections
//     and echo round trips (p50/p99) through `tether forward`, a NATS relay (Tether's path
//     without Tether, relay.go), `ssh -L` and direct TCP, side by side; scp of a large
//     file through `tether ssh-proxy` and plain ssh. The Tether side is tetherfwd.go, the
//     one place that knows how Tether forwards.
//
// Next to each figure it prints the same measurement made live through OpenSSH (a
// temporary sshd on 127.0.0.1 with temporary keys, aes128-gcm) when /usr/sbin/sshd and
// ssh exist, else the reference figure from perf-anchors.md. It installs nothing.
//
// Usage (`make bench` runs it after `make build`):
//
//	go run ./broker/cmd/tether-bench [-bin bin] [-n 30] [-size 512] [-zero-size 1024] [-rtt 2000] [-no-ssh] [-json]
//		[-sections shell,forward] [-fwd-size 1024] [-fwd-rtt 5000] [-fwd-rtt-size 1]
//		[-scp-size 1024] [-short]
//
// -short makes every size and count small (a smoke run in seconds, `make bench-short`);
// flags given explicitly still win.
//
// It is a benchmark, not a test: there are no thresholds. A failed measurement (wrong
// byte count, non-zero exit status, timeout) is reported and makes it exit 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	bin      string
	n        int
	sizeMiB  int
	zeroMiB  int // head -c of /dev/zero, MiB
	rtt      int
	noSSH    bool
	json     bool
	sections map[string]bool // "shell", "forward"

	fwdSizeMiB int // bytes per bulk forwarding run, MiB
	fwdRTT     int // echo round trips through each way
	fwdRTTSize int // bytes per echo request
	scpSizeMiB int
}

// shortValues are the flags' values under -short, unless given explicitly.
var shortValues = map[string]string{
	"n": "3", "size": "16", "zero-size": "64", "rtt": "200", "fwd-size": "64", "fwd-rtt": "500", "scp-size": "32",
}

// row is one line of the report. Ratio > 1 means Tether did better than the reference.
type row struct {
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	Tether    float64 `json:"tether"`
	Reference float64 `json:"reference,omitempty"`
	RefSource string  `json:"reference_source,omitempty"`
	Ratio     float64 `json:"ratio,omitempty"`
	Higher    bool    `json:"higher_is_better"`
	Error     string  `json:"error,omitempty"`
}

type report struct {
	Time       time.Time `json:"time"`
	CPUs       int       `json:"cpus"`
	Rows       []row     `json:"results,omitempty"`
	Forwarding []fwdRow  `json:"forwarding,omitempty"`
	Notes      []string  `json:"notes,omitempty"`
	Errors     []string  `json:"errors,omitempty"`
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *report) fail(what string, err error) {
	r.Errors = append(r.Errors, what+": "+err.Error())
}

func main() {
	maybeRelay()
	maybeTCPProxy()
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory holding tether-broker, tether-agent and tether")
	flag.IntVar(&o.n, "n", 30, "session start runs")
	flag.IntVar(&o.sizeMiB, "size", 512, "size of the file to cat, MiB")
	flag.IntVar(&o.zeroMiB, "zero-size", 1024, "bytes of /dev/zero to head -c, MiB")
	flag.IntVar(&o.rtt, "rtt", 2000, "keystroke round trips")
	flag.BoolVar(&o.noSSH, "no-ssh", false, "do not measure ssh live; compare with perf-anchors figures")
	flag.BoolVar(&o.json, "json", false, "print the results as JSON")
	sections := flag.String("sections", "shell,forward", "which sections to run, comma-separated: shell (sessions), forward (port forwarding)")
	flag.IntVar(&o.fwdSizeMiB, "fwd-size", 1024, "bytes per bulk forwarding run, MiB (split over the connections)")
	flag.IntVar(&o.fwdRTT, "fwd-rtt", 5000, "echo round trips through each way of forwarding")
	flag.IntVar(&o.fwdRTTSize, "fwd-rtt-size", 1, "bytes per echo request and response")
	flag.IntVar(&o.scpSizeMiB, "scp-size", 1024, "size of the file scp copies, MiB")
	short := flag.Bool("short", false, "small sizes and counts: a smoke run (explicit flags still win)")
	flag.Parse()
	if *short {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range shortValues {
			if !set[name] {
				_ = flag.Set(name, v)
			}
		}
	}
	o.sections = map[string]bool{}
	for _, sec := range strings.Split(*sections, ",") {
		o.sections[strings.TrimSpace(sec)] = true
	}
	badSection := len(o.sections) == 0
	for sec := range o.sections {
		badSection = badSection || (sec != "shell" && sec != "forward")
	}
	if o.n < 1 || o.sizeMiB < 1 || o.zeroMiB < 1 || o.rtt < 1 || o.fwdSizeMiB < 1 || o.fwdRTT < 1 || o.fwdRTTSize < 1 ||
		o.scpSizeMiB < 1 || badSection || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, o)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-bench:", err)
	}
	if rep != nil {
		if o.json {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printTable(os.Stdout, rep)
		}
	}
	switch {
	case interrupted:
		os.Exit(130)
	case err != nil || rep == nil || len(rep.Errors) > 0:
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (*report, error) {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return nil, err
	}
	o.bin = bin
	var noBin error
	for _, b := range []string{"tether-broker", "tether-agent", "tether"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			noBin = fmt.Errorf("%w (run make build, or pass -bin)", err)
		}
	}
	if noBin != nil && o.sections["shell"] {
		return nil, noBin
	}
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var cl cleanups
	defer cl.run()

	logf := func(format string, args ...any) {
		if !o.json {
			fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
		}
	}
	rep := &report{Time: time.Now().UTC(), CPUs: runtime.NumCPU()}
	// The forwarding section alone needs the broker and agent only when the CLI can
	// forward (tetherfwd.go).
	var t *tether
	switch {
	case noBin != nil:
		rep.note("tether: no broker and agent (%v)", noBin)
	case o.sections["shell"] || cliHasVerb(ctx, bin, "forward") || cliHasVerb(ctx, bin, "ssh-proxy"):
		logf("starting broker and agent")
		if t, err = startTether(ctx, bin, dir, &cl); err != nil {
			return nil, err
		}
		rep.note("tether: one broker and one agent on 127.0.0.1, sessions as the agent's user with HOME an empty directory (no rc files), the instance allowed the whole transcript stream")
	}

	// Live ssh, when possible: the reference of both sections.
	var s *sshEnv
	switch why := sshMissing(); {
	case o.noSSH:
		rep.note("live ssh skipped (-no-ssh): references are perf-anchors figures, no ssh -L or scp")
	case why != "":
		rep.note("live ssh skipped (%s): references are perf-anchors figures, no ssh -L or scp", why)
	default:
		logf("starting sshd")
		if s, err = startSSH(ctx, filepath.Join(dir, "ssh"), &cl); err != nil {
			rep.fail("start sshd", err)
			s = nil
			break
		}
		rep.note("live ssh: OpenSSH on 127.0.0.1, -c aes128-gcm@openssh.com, default kex, as %s, remote bash rc files skipped (SHLVL=1)", s.user)
	}
	if o.sections["shell"] {
		if err := shellSection(ctx, o, rep, dir, t, s, logf); err != nil {
			return nil, err
		}
	}
	if o.sections["forward"] && ctx.Err() == nil {
		rep.Forwarding = forwardSection(ctx, o, rep, dir, &cl, t, s, logf)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rep, nil
}

// shellSection measures sessions: start latency, output throughput, keystroke round
// trips, and what recording costs. Each metric is measured on both sides back to back,
// so that load from other work on the machine weighs on both alike.
func shellSection(ctx context.Context, o options, rep *report, dir string, t *tether, s *sshEnv, logf func(string, ...any)) error {
	size := int64(o.sizeMiB) << 20
	file := filepath.Join(dir, "data.bin")
	logf("writing %d MiB of random data to %s", o.sizeMiB, file)
	if err := writeRandomFile(file, size); err != nil {
		return err
	}
	zeroSize := int64(o.zeroMiB) << 20
	zeroCmd := []string{"head", "-c", fmt.Sprint(zeroSize), "/dev/zero"}

	var tm, sm figures
	both := func(what string, tf, sf func()) {
		if ctx.Err() != nil {
			return
		}
		logf("tether: %s", what)
		tf()
		if s != nil && ctx.Err() == nil {
			logf("ssh: %s", what)
			sf()
		}
	}
	both(fmt.Sprintf("%d session starts (connected client; ssh: ControlMaster)", o.n),
		func() { tm.start, tm.startErr = t.startLatency(ctx, o.n) },
		func() { sm.start, sm.startErr = s.startLatency(ctx, o.n, true) })
	both(fmt.Sprintf("%d session starts (new client process)", o.n),
		func() { tm.cliStart, tm.cliStartErr = t.cliStartLatency(ctx, o.n) },
		func() { sm.cliStart, sm.cliStartErr = s.startLatency(ctx, o.n, false) })
	both(fmt.Sprintf("cat %d MiB x3", o.sizeMiB),
		func() {
			tm.cat, tm.catErr = median3(ctx, func() (float64, error) { return t.throughput(ctx, []string{"cat", file}, size) })
			rep.note("tether cat CPU: %s", t.cpuNote())
		},
		func() {
			sm.cat, sm.catErr = median3(ctx, func() (float64, error) { return s.throughput(ctx, []string{"cat", file}, size) })
		})
	both(fmt.Sprintf("head -c %s /dev/zero x3", zeroLabel(o.zeroMiB)),
		func() {
			tm.zero, tm.zeroErr = median3(ctx, func() (float64, error) { return t.throughput(ctx, zeroCmd, zeroSize) })
			rep.note("tether /dev/zero CPU: %s", t.cpuNote())
		},
		func() {
			sm.zero, sm.zeroErr = median3(ctx, func() (float64, error) { return s.throughput(ctx, zeroCmd, zeroSize) })
		})
	both(fmt.Sprintf("%d keystroke round trips (in-process client; ssh -tt in a PTY)", o.rtt),
		func() { tm.rtt, tm.rttErr = t.echoRTT(ctx, o.rtt) },
		func() { sm.rtt, sm.rttErr = s.echoRTT(ctx, o.rtt) })
	both(fmt.Sprintf("%d keystroke round trips (tether CLI in a PTY; ssh -tt in a PTY again)", o.rtt),
		func() { tm.cliRTT, tm.cliRTTErr = t.cliEchoRTT(ctx, o.rtt) },
		func() { sm.cliRTT, sm.cliRTTErr = s.echoRTT(ctx, o.rtt) })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ref := &sm
	if s == nil {
		ref = nil
	}
	rep.Rows = buildRows(rep, &tm, ref, o)
	logf("the record's cost: %d frame round trips and %d MiB, stored before shown and not", o.rtt, min(o.sizeMiB, 256))
	rows, err := recordCost(ctx, dir, o.rtt, int64(min(o.sizeMiB, 256))<<20)
	if err != nil {
		rep.fail("the record's cost", err)
	}
	rep.Rows = append(rep.Rows, rows...)
	rep.note("stored before shown: the same frames through the transcript stream (file storage) and its RePublish, beside a plain NATS subject, on one embedded nats-server; the publisher keeps at most a 2 MiB window ahead")
	return nil
}

// figures are one side's measurements.
type figures struct {
	start, cliStart, rtt, cliRTT                   percentiles
	cat, zero                                      float64 // MB/s
	startErr, cliStartErr, catErr, zeroErr, rttErr error
	cliRTTErr                                      error
}

func buildRows(rep *report, t, s *figures, o options) []row {
	live := s != nil
	if s == nil {
		s = &figures{}
	}
	var rows []row
	add := func(metric, unit string, higher bool, tv float64, terr error, rv float64, rerr error, anchor float64, anchorSrc string) {
		r := row{Metric: metric, Unit: unit, Tether: tv, Higher: higher}
		if terr != nil {
			r.Error = terr.Error()
			rep.fail("tether "+metric, terr)
		}
		switch {
		case live && rerr != nil:
			rep.fail("ssh "+metric, rerr)
			r.RefSource = "live ssh failed"
		case live:
			r.Reference, r.RefSource = rv, "live ssh"
		case anchor > 0:
			r.Reference, r.RefSource = anchor, "perf-anchors: "+anchorSrc
		default:
			r.RefSource = "-"
		}
		if r.Error == "" && r.Reference > 0 && r.Tether > 0 {
			if higher {
				r.Ratio = r.Tether / r.Reference
			} else {
				r.Ratio = r.Reference / r.Tether
			}
		}
		rows = append(rows, r)
	}
	add("start p50, connected client (ref: ControlMaster)", "ms", false, t.start.p50, t.startErr, s.start.p50, s.startErr, 7.3, "ssh ControlMaster reuse")
	add("start p90, connected client (ref: ControlMaster)", "ms", false, t.start.p90, t.startErr, s.start.p90, s.startErr, 0, "")
	add("start p99, connected client (ref: ControlMaster)", "ms", false, t.start.p99, t.startErr, s.start.p99, s.startErr, 0, "")
	add("start p50, new CLI process (ref: new ssh)", "ms", false, t.cliStart.p50, t.cliStartErr, s.cliStart.p50, s.cliStartErr, 224, "ssh default kex; 140 curve25519")
	add("start p90, new CLI process (ref: new ssh)", "ms", false, t.cliStart.p90, t.cliStartErr, s.cliStart.p90, s.cliStartErr, 0, "")
	add("start p99, new CLI process (ref: new ssh)", "ms", false, t.cliStart.p99, t.cliStartErr, s.cliStart.p99, s.cliStartErr, 0, "")
	add(fmt.Sprintf("cat %d MiB file, median of 3", o.sizeMiB), "MB/s", true, t.cat, t.catErr, s.cat, s.catErr, 790, "ssh aes128-gcm 1 GiB /dev/zero")
	add(fmt.Sprintf("head -c %s /dev/zero, median of 3", zeroLabel(o.zeroMiB)), "MB/s", true, t.zero, t.zeroErr, s.zero, s.zeroErr, 790, "ssh aes128-gcm (778 idle; chacha20 529)")
	add("keystroke RTT p50, in-process client", "µs", false, t.rtt.p50, t.rttErr, s.rtt.p50, s.rttErr, 185, "ssh -tt through a PTY")
	add("keystroke RTT p99, in-process client", "µs", false, t.rtt.p99, t.rttErr, s.rtt.p99, s.rttErr, 270, "ssh -tt through a PTY")
	add("keystroke RTT p50, CLI in a PTY", "µs", false, t.cliRTT.p50, t.cliRTTErr, s.cliRTT.p50, s.cliRTTErr, 185, "ssh -tt through a PTY")
	add("keystroke RTT p99, CLI in a PTY", "µs", false, t.cliRTT.p99, t.cliRTTErr, s.cliRTT.p99, s.cliRTTErr, 270, "ssh -tt through a PTY")
	return rows
}

func printTable(w io.Writer, rep *report) {
	fmt.Fprintf(w, "\nTether end-to-end benchmark (%d CPUs, %s)\n", rep.CPUs, rep.Time.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(rep.Rows) > 0 {
		fmt.Fprintln(w, "ratio > 1 means Tether is better (throughput: Tether/ref; latency: ref/Tether)")
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "metric\tunit\tTether\treference\tratio\tref source")
	}
	for _, r := range rep.Rows {
		tv, rv, ratio := num(r.Tether), num(r.Reference), "-"
		if r.Error != "" {
			tv = "ERROR"
		}
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Metric, r.Unit, tv, rv, ratio, r.RefSource)
	}
	_ = tw.Flush()
	if len(rep.Forwarding) > 0 {
		printForwarding(w, rep.Forwarding)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if len(rep.Errors) > 0 {
		fmt.Fprintln(w, "\nERRORS:")
		for _, e := range rep.Errors {
			fmt.Fprintln(w, "  -", e)
		}
	}
}

func num(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// cleanups run in reverse order of registration.
type cleanups struct{ fns []func() }

func (c *cleanups) add(f func()) { c.fns = append(c.fns, f) }

func (c *cleanups) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}

// zeroLabel is head's spelling of a size in MiB: 1G, 64M.
func zeroLabel(mib int) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%dG", mib/1024)
	}
	return fmt.Sprintf("%dM", mib)
}

// median3 runs f three times and returns the median; any failed run is an error.
func median3(ctx context.Context, f func() (float64, error)) (float64, error) {
	var vals []float64
	var errs []string
	for i := 0; i < 3 && ctx.Err() == nil; i++ {
		v, err := f()
		if err != nil {
			errs = append(errs, fmt.Sprintf("run %d: %v", i+1, err))
			continue
		}
		vals = append(vals, v)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(errs) > 0 {
		return 0, errors.New(strings.Join(errs, "; "))
	}
	return percentile(vals, 50), nil
}
