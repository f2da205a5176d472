package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

const (
	benchUser   = "bench"
	benchTarget = "bench"
)

// tether is a running broker and agent, and a connected admin client.
type tether struct {
	bin, cfgPath  string
	broker, agent *proc
	nc            *nats.Conn

	// CPU accounting across throughput runs, reset by cpuNote.
	forwardCLIs                    []int // pids of `tether forward` processes (tetherForward)
	cpuBroker, cpuAgent, cpuClient float64
	wall                           time.Duration
	bytes                          int64
}

func startTether(ctx context.Context, bin, dir string, cl *cleanups) (*tether, error) {
	t := &tether{bin: bin, cfgPath: filepath.Join(dir, "client", "config.json")}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	if err := os.MkdirAll(filepath.Dir(t.cfgPath), 0o700); err != nil {
		return nil, err
	}
	seedPath := filepath.Join(dir, "client", "bench.nk")
	if err := os.WriteFile(seedPath, seed, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := &config.Config{BrokerURL: "nats://" + listen, User: benchUser, NKeySeedFile: seedPath}
	if err := config.Write(t.cfgPath, cfg); err != nil {
		return nil, err
	}
	// The throughput runs send gigabytes through one instance, past the default share of
	// the transcript stream an instance may hold (an eighth): let it have the whole stream,
	// whose oldest frames make way as usual.
	brokerCfg := filepath.Join(dir, "broker.json")
	if err := os.WriteFile(brokerCfg, []byte(`{"transcripts": {"agent_budget": 10737418240}}`), 0o600); err != nil {
		return nil, err
	}
	t.broker, err = startProc("tether-broker", filepath.Join(dir, "broker.log"),
		filepath.Join(bin, "tether-broker"), "run", "--config", brokerCfg, "--listen", listen,
		"--state-dir", filepath.Join(dir, "broker"), "--admin", benchUser+"="+pub, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	cl.add(t.broker.stop)

	// Wait until the broker answers WhoAmI.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := t.broker.exited(); err != nil {
			return nil, err
		}
		nc, err := cfg.Connect(nats.Timeout(2*time.Second), nats.MaxReconnects(-1))
		if err == nil {
			var who api.WhoAmIResponse
			if err = t.call(ctx, nc, api.VerbWhoAmI, struct{}{}, &who); err == nil {
				t.nc = nc
				break
			}
			nc.Close()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("broker not answering after 60s: %v; end of its log:\n%s", err, t.broker.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cl.add(t.nc.Close)

	var act api.Activation
	if err := t.call(ctx, t.nc, api.VerbCreateActivation, api.CreateActivationRequest{
		Description: "tether-bench", DefaultInstanceName: benchTarget, Limit: 1, Expires: "1h",
	}, &act); err != nil {
		return nil, fmt.Errorf("create activation: %w", err)
	}
	// Sessions run as the agent's user with its HOME: an empty one keeps the login shell
	// from sourcing rc files (pyenv init, say), as SHLVL=1 does for ssh's remote bash.
	home := filepath.Join(dir, "agent-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	t.agent, err = startProcEnv("tether-agent", filepath.Join(dir, "agent.log"), []string{"HOME=" + home},
		filepath.Join(bin, "tether-agent"), "--broker", cfg.BrokerURL,
		"--state-dir", filepath.Join(dir, "agent"), "--activation-id", act.ID,
		"--activation-code", act.Code, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	cl.add(t.agent.stop) // runs before the broker's stop

	deadline = time.Now().Add(60 * time.Second)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := t.agent.exited(); err != nil {
			return nil, err
		}
		var r api.DescribeInstancesResponse
		err := t.call(ctx, t.nc, api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{benchTarget}}, &r)
		if err == nil && len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline {
			return t, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("agent not Online after 60s (last error %v); end of its log:\n%s", err, t.agent.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *tether) call(ctx context.Context, nc *nats.Conn, verb string, req, resp any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return api.Call(ctx, nc, subjects.API(benchUser, verb), req, resp)
}

func (t *tether) fetcher(id string) func(context.Context, uint64, int) ([]api.TranscriptFrame, error) {
	return func(ctx context.Context, after uint64, max int) ([]api.TranscriptFrame, error) {
		var r api.ReadTranscriptResponse
		err := t.call(ctx, t.nc, api.VerbReadTranscript, api.ReadTranscriptRequest{SessionID: id, After: after, Max: max}, &r)
		return r.Frames, err
	}
}

// runCommand runs argv in a non-interactive session with no stdin, as the CLI does, and
// checks it exited 0 with nothing on stderr.
func (t *tether) runCommand(ctx context.Context, argv []string, stdout io.Writer) error {
	var start api.StartSessionResponse
	if err := t.call(ctx, t.nc, api.VerbStartSession, api.StartSessionRequest{Target: benchTarget, Command: argv}, &start); err != nil {
		return fmt.Errorf("StartSession: %w", err)
	}
	var stderr strings.Builder
	var st frame.ExitStatus
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	code, err := session.Run(ctx, t.nc, start, session.Options{
		NoStdin: true, Stdout: stdout, Stderr: &stderr,
		Fetch: t.fetcher(start.Session.ID), OnExit: func(s frame.ExitStatus) { st = s },
	})
	if err != nil {
		return fmt.Errorf("session %s: %w", start.Session.ID, err)
	}
	if code != 0 || (st.Reason != "" && st.Reason != api.ReasonExit) {
		return fmt.Errorf("session %s: %q exited %d (%s); stderr %q", start.Session.ID, strings.Join(argv, " "), code, st.Reason, stderr.String())
	}
	if stderr.Len() > 0 {
		return fmt.Errorf("session %s: unexpected stderr %q", start.Session.ID, stderr.String())
	}
	return nil
}

// startLatency: StartSession of `true` → attach → Exit, with the connected client, in ms.
func (t *tether) startLatency(ctx context.Context, n int) (percentiles, error) {
	var vals []float64
	for i := -2; i < n; i++ { // two warm-up runs
		t0 := time.Now()
		if err := t.runCommand(ctx, []string{"true"}, io.Discard); err != nil {
			return percentiles{}, fmt.Errorf("run %d: %w", i, err)
		}
		if i >= 0 {
			vals = append(vals, ms(time.Since(t0)))
		}
	}
	return summarize(vals), nil
}

// cliStartLatency: a fresh `tether start-session -n --target bench -- true` process.
func (t *tether) cliStartLatency(ctx context.Context, n int) (percentiles, error) {
	var vals []float64
	for i := -2; i < n; i++ {
		cmd := exec.CommandContext(ctx, filepath.Join(t.bin, "tether"), "--config", t.cfgPath,
			"start-session", "-n", "--target", benchTarget, "--", "true")
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			return percentiles{}, fmt.Errorf("run %d: tether start-session: %v: %s", i, err, out)
		}
		if i >= 0 {
			vals = append(vals, ms(d))
		}
	}
	return summarize(vals), nil
}

// throughput runs argv, checks it wrote exactly want bytes, and returns MB/s.
func (t *tether) throughput(ctx context.Context, argv []string, want int64) (float64, error) {
	var c counter
	b0, a0, c0 := cpuSeconds(t.broker.cmd.Process.Pid), cpuSeconds(t.agent.cmd.Process.Pid), selfCPUSeconds()
	t0 := time.Now()
	err := t.runCommand(ctx, argv, &c)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if got := c.n.Load(); got != want {
		return 0, fmt.Errorf("%q: received %d bytes, want %d", strings.Join(argv, " "), got, want)
	}
	t.cpuBroker += cpuSeconds(t.broker.cmd.Process.Pid) - b0
	t.cpuAgent += cpuSeconds(t.agent.cmd.Process.Pid) - a0
	t.cpuClient += selfCPUSeconds() - c0
	t.wall += d
	t.bytes += want
	return mbps(want, d), nil
}

// cpuNote summarizes the CPU the processes used during the throughput runs since the
// last call, as a share of one core over the wall time.
func (t *tether) cpuNote() string {
	if t.wall == 0 {
		return "no successful run"
	}
	w := t.wall.Seconds()
	gb := float64(t.bytes) / 1e9
	s := fmt.Sprintf("broker %.0f%%, agent %.0f%%, client %.0f%% of a core (total %.2f CPU-s/GB; cat/head itself not counted)",
		100*t.cpuBroker/w, 100*t.cpuAgent/w, 100*t.cpuClient/w, (t.cpuBroker+t.cpuAgent+t.cpuClient)/gb)
	t.cpuBroker, t.cpuAgent, t.cpuClient, t.wall, t.bytes = 0, 0, 0, 0, 0
	return s
}

// echoRTT measures keystroke round trips with the in-process client in an interactive
// session (80x24) whose shell runs `stty raw -echo; exec cat`, in µs.
func (t *tether) echoRTT(ctx context.Context, n int) (percentiles, error) {
	var start api.StartSessionResponse
	if err := t.call(ctx, t.nc, api.VerbStartSession, api.StartSessionRequest{
		Target: benchTarget, Interactive: true, Cols: 80, Rows: 24, Term: "xterm",
	}, &start); err != nil {
		return percentiles{}, fmt.Errorf("StartSession: %w", err)
	}
	id := start.Session.ID
	pr, pw := io.Pipe()
	out := make(chanWriter, 1024)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := session.Run(ctx, t.nc, start, session.Options{
			Stdin: pr, Stdout: out, Interactive: true, Cols: 80, Rows: 24, Fetch: t.fetcher(id),
		})
		done <- err
	}()
	defer func() {
		pw.Close()
		var r api.TerminateSessionResponse
		if err := t.call(context.WithoutCancel(ctx), t.nc, api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: id}, &r); err != nil {
			fmt.Fprintf(os.Stderr, "bench: terminate session %s: %v\n", id, err)
		}
		go func() { // unblock Run's stdout writes while it ends
			for range out {
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "bench: session %s did not end 10s after TerminateSession\n", id)
			cancel()
			<-done
		}
		close(out)
	}()
	e := &echo{w: pw, out: out}
	if _, err := io.WriteString(pw, readyCmd); err != nil {
		return percentiles{}, err
	}
	if err := e.ready(); err != nil {
		return percentiles{}, fmt.Errorf("session %s: %w", id, err)
	}
	return e.measure(ctx, n)
}

// cliEchoRTT measures the same through `tether shell bench` running in a PTY, as a user
// would (the ssh measurement has the same local PTY hop).
func (t *tether) cliEchoRTT(ctx context.Context, n int) (percentiles, error) {
	cmd := exec.Command(filepath.Join(t.bin, "tether"), "--config", t.cfgPath, "shell", benchTarget)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	p, err := ptyEcho(ctx, cmd, readyCmd, n)
	// The CLI was stopped by a signal: end the session it leaves behind.
	var r api.DescribeSessionsResponse
	if lerr := t.call(context.WithoutCancel(ctx), t.nc, api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &r); lerr == nil {
		for _, s := range r.Sessions {
			_ = t.call(context.WithoutCancel(ctx), t.nc, api.VerbTerminateSession, api.TerminateSessionRequest{SessionID: s.ID}, nil)
		}
	} else if err == nil {
		err = errors.New("list sessions to clean up: " + lerr.Error())
	}
	return p, err
}
