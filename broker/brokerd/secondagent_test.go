package brokerd_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/agent/agent"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
)

// TestSecondAgentWithSameKeyRefused: a second tether-agent with the identity of a
// running one (its state directory copied: the lock cannot see that) is refused by the
// broker and its Run returns ErrSecondAgent with the broker's reason; the first one's
// shell keeps running and its client keeps getting output. When the first one's
// connection is cut for good (the process killed, as the broker sees it), the next
// process registers, and the shell it does not run ends as agent_restarted; the old
// process, back, is the one refused, and sessions start on the new one.
func TestSecondAgentWithSameKeyRefused(t *testing.T) {
	s := brokertest.NewServer(t)
	act := s.Activation("web", map[string]string{"env": "test"}, 1)
	dir := t.TempDir()
	cut := &cuttableDialer{}
	first, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: dir, ActivationID: act.ID, ActivationCode: act.Code,
		Version: "test", ReconnectMax: time.Second, NATSOptions: []nats.Option{nats.SetCustomDialer(cut)}})
	if err != nil {
		t.Fatal(err)
	}
	firstDone := runAgent(t, first)
	waitOnline(t, s, "web")

	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web", Interactive: true}, &start); err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	var out syncBuffer
	clientCtx, stopClient := context.WithCancel(context.Background())
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		_, _ = session.Run(clientCtx, s.Admin, start, session.Options{Interactive: true, Stdin: stdinR, Stdout: &out})
	}()
	t.Cleanup(func() { stopClient(); <-clientDone })
	say := func(cmd, want string) {
		t.Helper()
		if _, err := stdinW.Write([]byte(cmd + "\n")); err != nil {
			t.Fatal(err)
		}
		brokertest.WaitFor(t, 10*time.Second, "shell output "+want, func() bool { return strings.Contains(out.String(), want) })
	}
	say("echo up-$((1+1))", "up-2")

	copyIdentity := func() string {
		t.Helper()
		to := t.TempDir()
		for _, f := range []string{agent.SeedFile, agent.StateFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return to
	}
	second, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: copyIdentity(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	err = second.Run(ctx)
	cancel()
	if !errors.Is(err, agent.ErrSecondAgent) || !strings.Contains(err.Error(), "instance web is already connected") {
		t.Fatalf("the second agent's Run: %v; want %v with the broker's reason", err, agent.ErrSecondAgent)
	}
	say("echo still-$((2+2))", "still-4")
	if se := getSession(t, s, start.Session.ID); se.State != api.StateConnected {
		t.Fatalf("the first agent's shell is %s (%s) after the second agent; want %s", se.State, se.Reason, api.StateConnected)
	}

	// The first agent's connection is cut and stays cut: the broker sees a killed process.
	cut.cut(true)
	third, err := agent.New(agent.Config{BrokerURL: s.URL(), StateDir: copyIdentity(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	thirdDone := runAgent(t, third)
	brokertest.WaitFor(t, 20*time.Second, "the first agent's shell to end", func() bool {
		select {
		case err := <-thirdDone:
			t.Fatalf("the next agent, once the first one's connection was gone: %v", err)
		default:
		}
		return getSession(t, s, start.Session.ID).Ended()
	})
	if se := getSession(t, s, start.Session.ID); se.Reason != api.ReasonAgentRestarted {
		t.Fatalf("the first agent's shell ended with %q; want %q", se.Reason, api.ReasonAgentRestarted)
	}
	// The first process comes back: the new one is registered now, and it is refused.
	// It stops as on a signal, ending its shell, whose last frames the broker refuses
	// (that session is over): the agent takes the refusal as final, and returns.
	cut.cut(false)
	select {
	case err := <-firstDone:
		if !errors.Is(err, agent.ErrSecondAgent) || !strings.Contains(err.Error(), "instance web is registered to another agent process") &&
			!strings.Contains(err.Error(), "instance web is already connected") {
			t.Fatalf("the first agent, back: %v; want %v with the broker's reason", err, agent.ErrSecondAgent)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the first agent, back, was not refused")
	}
	if out, code := runCommand(t, s, s.Admin, "web", "echo", "third"); out != "third\n" || code != 0 {
		t.Fatalf("a session on the new agent: %q %d", out, code)
	}
}

// runAgent runs a until the test ends, and returns where Run's error will be sent.
func runAgent(t *testing.T, a *agent.Agent) <-chan error {
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	t.Cleanup(func() { _ = a.Close() })
	return done
}

func waitOnline(t *testing.T, s *brokertest.Server, id string) {
	t.Helper()
	brokertest.WaitFor(t, 10*time.Second, id+" online", func() bool {
		var r api.DescribeInstancesResponse
		return s.Call(s.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: []string{id}}, &r) == nil &&
			len(r.Instances) == 1 && r.Instances[0].PingStatus == api.PingOnline
	})
}

func getSession(t *testing.T, s *brokertest.Server, id string) api.Session {
	t.Helper()
	var got api.GetSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &got); err != nil {
		t.Fatal(err)
	}
	return got.Session
}

// cuttableDialer dials TCP until cut: then it closes what it dialled and refuses to
// dial again, until cut(false).
type cuttableDialer struct {
	mu    sync.Mutex
	off   bool
	conns []net.Conn
}

func (d *cuttableDialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.off {
		return nil, errors.New("cut")
	}
	c, err := net.Dial(network, address)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cuttableDialer) cut(off bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.off = off
	if off {
		for _, c := range d.conns {
			_ = c.Close()
		}
		d.conns = nil
	}
}
