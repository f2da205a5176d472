package main

// The floor of the forwarding section: a "NATS relay", the same three processes between
// the harness and a destination as `tether forward` has (a client that listens, a NATS
// server, a process on the node that dials), carrying the same frames through the same
// fwd.Mux, and nothing else: no broker (no accounts, imports, authorization, control
// plane, recording), no agent, no CLI. Tether's figures beside it say what Tether adds
// to the path; its figures beside ssh -L say what the path itself costs.
//
// The processes are this harness (or its test binary) run again with $TETHER_BENCH_RELAY
// set (relayEnv): role server runs a bare nats-server, listen accepts TCP connections and
// opens a forwarded connection for each, dial accepts those and dials the destination.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/streams/gctune"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/fwd"
)

// relayEnv, set in a process's environment, makes it a relay process (relayRole).
const relayEnv = "TETHER_BENCH_RELAY"

// relayRole is what a relay process does, as JSON in $TETHER_BENCH_RELAY.
type relayRole struct {
	Role    string `json:"role"`    // server, listen or dial
	NATS    string `json:"nats"`    // the server's host:port
	Listen  string `json:"listen"`  // where listen listens
	Dest    string `json:"dest"`    // where dial dials
	Subject string `json:"subject"` // the subjects' prefix of one listen and dial pair
}

// maybeRelay runs this process as a relay process and exits, when $TETHER_BENCH_RELAY
// says so.
func maybeRelay() {
	v := os.Getenv(relayEnv)
	if v == "" {
		return
	}
	var r relayRole
	err := json.Unmarshal([]byte(v), &r)
	if err == nil {
		err = runRelay(r)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tether-bench relay %s: %v\n", r.Role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runRelay runs one relay process until SIGTERM or SIGINT.
func runRelay(r relayRole) error {
	gctune.Apply() // as Tether's binaries do
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if r.Role == "server" {
		host, port, err := net.SplitHostPort(r.NATS)
		if err != nil {
			return err
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return err
		}
		s, err := server.NewServer(&server.Options{Host: host, Port: p, NoSigs: true, MaxPayload: 8 << 20})
		if err != nil {
			return err
		}
		s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			return errors.New("nats-server not ready in 10s")
		}
		<-ctx.Done()
		s.Shutdown()
		return nil
	}
	nc, err := nats.Connect("nats://" + r.NATS)
	if err != nil {
		return err
	}
	defer nc.Close()
	// The listening side sends on in and reads ctl; the dialing side the other way round,
	// as the CLI and the agent do.
	send, recv := r.Subject+".in", r.Subject+".ctl"
	if r.Role == "dial" {
		send, recv = recv, send
	}
	var (
		mu  sync.Mutex
		seq uint64
	)
	cfg := fwd.Config{Send: func(t frame.Type, flags uint8, buf []byte) error {
		mu.Lock()
		defer mu.Unlock()
		seq++
		frame.PutHeader(buf, t, flags, seq)
		return nc.Publish(send, buf)
	}}
	if r.Role == "dial" {
		cfg.Accept = func(c *fwd.Conn, _ fwd.Open) {
			local, err := net.Dial("tcp", r.Dest)
			if err != nil {
				c.Refuse(err.Error())
				return
			}
			if c.Accept() != nil {
				local.Close()
				return
			}
			fwd.Splice(c, local)
		}
	}
	mux := fwd.NewMux(cfg)
	sub, err := nc.Subscribe(recv, func(m *nats.Msg) {
		if f, err := frame.Decode(m.Data); err == nil {
			_ = mux.Handle(f)
		}
	})
	if err != nil {
		return err
	}
	if err := sub.SetPendingLimits(-1, 256<<20); err != nil { // as the agent's input
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	if r.Role == "dial" {
		// The listening side waits for this answer before it listens, so that no Open
		// is published before anyone reads it.
		if _, err := nc.Subscribe(r.Subject+".ready", func(m *nats.Msg) { _ = m.Respond(nil) }); err != nil {
			return err
		}
		<-ctx.Done()
		mux.Close("the relay stopped")
		return nil
	}
	for {
		if _, err := nc.Request(r.Subject+".ready", nil, 100*time.Millisecond); err == nil {
			break
		}
		select { // no responders is an answer at once: pace the retries
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	l, err := net.Listen("tcp", r.Listen)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { l.Close() })
	for {
		conn, err := l.Accept()
		if err != nil {
			mux.Close("the relay stopped")
			return nil
		}
		go func() {
			c, err := mux.Open(ctx, 0, conn.RemoteAddr().String())
			if err != nil {
				conn.Close()
				return
			}
			fwd.Splice(c, conn)
		}()
	}
}

// natsRelay is the relay way: one nats-server for all its destinations, and a listening
// and a dialing process for each.
type natsRelay struct {
	exe, dir         string
	nats             string // the server's host:port
	n                int    // relays opened: each gets its own subjects
	cl               *cleanups
	server           *proc
	listens, dialers []*proc
}

// cpu measures the relay's processes from now, as shares of one core over the wall time,
// as tether.forwardCPU does Tether's.
func (r *natsRelay) cpu() cpuMeter {
	sum := func(ps []*proc) (s float64) {
		for _, p := range ps {
			s += cpuSeconds(p.cmd.Process.Pid)
		}
		return s
	}
	s0, d0, l0, t0 := sum([]*proc{r.server}), sum(r.dialers), sum(r.listens), time.Now()
	return func() string {
		w := time.Since(t0).Seconds()
		return fmt.Sprintf("nats-server %.0f%%, dialing side %.0f%%, listening side %.0f%% of a core",
			100*(sum([]*proc{r.server})-s0)/w, 100*(sum(r.dialers)-d0)/w, 100*(sum(r.listens)-l0)/w)
	}
}

// startRelay starts the relay's nats-server.
func startRelay(ctx context.Context, dir string, cl *cleanups) (*natsRelay, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r := &natsRelay{exe: exe, dir: dir, cl: cl}
	if r.nats, err = freeAddr(); err != nil {
		return nil, err
	}
	if r.server, err = r.start(ctx, r.nats, relayRole{Role: "server", NATS: r.nats}); err != nil {
		return nil, err
	}
	return r, nil
}

// start starts one relay process and waits until it accepts connections at addr.
func (r *natsRelay) start(ctx context.Context, addr string, role relayRole) (*proc, error) {
	r.n++
	env, err := json.Marshal(role)
	if err != nil {
		return nil, err
	}
	p, err := startProcEnv("relay "+role.Role, filepath.Join(r.dir, fmt.Sprintf("%s-%d.log", role.Role, r.n)),
		[]string{relayEnv + "=" + string(env)}, r.exe)
	if err != nil {
		return nil, err
	}
	r.cl.add(p.stop)
	if addr != "" {
		if err := waitDial(ctx, addr, 10*time.Second, p.exited); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// forward is the relay's forwarder.
func (r *natsRelay) forward(ctx context.Context, dest string) (string, func(), error) {
	local, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	subject := fmt.Sprintf("relay.%d", r.n)
	dial, err := r.start(ctx, "", relayRole{Role: "dial", NATS: r.nats, Dest: dest, Subject: subject})
	if err != nil {
		return "", nil, err
	}
	listen, err := r.start(ctx, local, relayRole{Role: "listen", NATS: r.nats, Listen: local, Subject: subject})
	if err != nil {
		dial.stop()
		return "", nil, err
	}
	r.listens, r.dialers = append(r.listens, listen), append(r.dialers, dial)
	return local, func() { listen.stop(); dial.stop() }, nil
}

// freeAddr returns a 127.0.0.1 address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
