package brokercmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/tetherhq/tether/agent/agentcmd"
	"github.com/tetherhq/tether/agent/shell/shelltest"
	"github.com/tetherhq/tether/broker/brokercmd"
	"github.com/tetherhq/tether/cli/clicmd"
	cliconfig "github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/streams/polltest"
	"github.com/tetherhq/tether/streams/ship/seal"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tether":        func() { os.Exit(clicmd.Main(os.Args[1:])) },
		"tether-broker": func() { os.Exit(brokercmd.Main(os.Args[1:])) },
		"tether-agent":  func() { os.Exit(agentcmd.Main(os.Args[1:])) },
		"eventwatch":    func() { os.Exit(eventWatch()) },
	})
}

// TestScripts runs testdata/script/*.txtar: real tether-broker and tether-agent processes
// driven by the tether CLI.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		Setup:               setup,
		Cmds:                scriptCmds(),
	})
}

// scriptCmds are the commands the scripts have beside testscript's own.
func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"waitbroker":    cmdWaitBroker,
		"waitonline":    cmdWaitOnline,
		"envjson":       cmdEnvJSON,
		"exitcode":      cmdExitCode,
		"ptyshell":      cmdPTYShell,
		"pubkey":        cmdPubKey,
		"clientcfg":     cmdClientConfig,
		"waitactive":    cmdWaitActive,
		"ptyexpect":     cmdPTYExpect,
		"waitrecording": cmdWaitRecording,
		"agekey":        cmdAgeKey,
		"pagethrough":   cmdPageThrough,
		"killpid":       cmdKillPID,
		"waitended":     cmdWaitEnded,
		"ptycrash":      cmdPTYCrash,
		"serve":         cmdServe,
		"forwarding":    cmdForwarding,
		"waitfile":      cmdWaitFile,
		"outbeyond":     cmdOutBeyond,
	}
}

// setup gives each script a free port, an admin key and a client config for it.
func setup(env *testscript.Env) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	kp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	if err := os.WriteFile(filepath.Join(env.WorkDir, "admin.nk"), seed, 0o600); err != nil {
		return err
	}
	cfg := filepath.Join(env.WorkDir, "admin.json")
	if err := cliconfig.Write(cfg, &cliconfig.Config{BrokerURL: "nats://" + addr, User: "admin", NKeySeedFile: "admin.nk"}); err != nil {
		return err
	}
	env.Setenv("BROKER_ADDR", addr)
	env.Setenv("BROKER_URL", "nats://"+addr)
	env.Setenv("ADMIN_PUB", pub)
	env.Setenv("TETHER_CONFIG", cfg)
	// A user the agent can run sessions as.
	runAs, err := shelltest.RunAsName()
	if err != nil {
		return err
	}
	env.Setenv("RUNAS_USER", runAs)
	return nil
}

func client(ts *testscript.TestScript) (*cliconfig.Config, func(verb string, req, resp any) error) {
	c, err := cliconfig.Load(ts.Getenv("TETHER_CONFIG"))
	ts.Check(err)
	return c, func(verb string, req, resp any) error {
		nc, err := c.Connect()
		if err != nil {
			return err
		}
		defer nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return api.Call(ctx, nc, subjects.API(c.User, verb), req, resp)
	}
}

func poll(ts *testscript.TestScript, what string, f func() error) {
	if err := polltest.Wait(30*time.Second, f); err != nil {
		ts.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitbroker waits until the admin can reach the control plane.
func cmdWaitBroker(ts *testscript.TestScript, neg bool, args []string) {
	_, call := client(ts)
	poll(ts, "the broker", func() error { return call(api.VerbWhoAmI, nil, nil) })
}

// waitonline ID [Online|ConnectionLost] waits until instance ID has that ping status.
func cmdWaitOnline(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: waitonline ID [STATUS]")
	}
	want := api.PingOnline
	if len(args) > 1 {
		want = args[1]
	}
	_, call := client(ts)
	poll(ts, args[0]+" "+want, func() error {
		var r api.DescribeInstancesResponse
		if err := call(api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: args[:1]}, &r); err != nil {
			return err
		}
		if len(r.Instances) != 1 || r.Instances[0].PingStatus != want {
			return fmt.Errorf("instances: %+v", r.Instances)
		}
		return nil
	})
}

// envjson VAR PATH sets VAR from the JSON the last command printed (PATH like a.0.b).
func cmdEnvJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: envjson VAR PATH")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &v))
	for _, k := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				ts.Fatalf("envjson: no element %s", k)
			}
			v = x[i]
		default:
			ts.Fatalf("envjson: cannot index %T with %s", v, k)
		}
	}
	s, ok := v.(string)
	if !ok {
		ts.Fatalf("envjson: %s is %T, not a string", args[1], v)
	}
	ts.Setenv(args[0], s)
}

// pubkey VAR FILE sets VAR to the public key of the seed in FILE.
func cmdPubKey(ts *testscript.TestScript, neg bool, args []string) {
	seed := strings.TrimSpace(ts.ReadFile(args[1]))
	kp, err := nkeys.FromSeed([]byte(seed))
	ts.Check(err)
	pub, _ := kp.PublicKey()
	ts.Setenv(args[0], pub)
}

// exitcode N PROG ARGS... runs PROG and checks its exit status is N; its output is kept
// for stdout/stderr checks.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = environ(ts)
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func environ(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TETHER_CONFIG", "BROKER_URL", "USER", "LANG"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// ptyshell TARGET drives an interactive `tether shell TARGET` through a real PTY: it types,
// reads the echo, resizes the terminal, interrupts a command with Ctrl-C, exits with a
// status, and checks the local terminal was restored.
func cmdPTYShell(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: ptyshell TARGET")
	}
	ptmx, tty, err := pty.Open()
	ts.Check(err)
	defer ptmx.Close()
	ts.Check(pty.Setsize(ptmx, &pty.Winsize{Cols: 80, Rows: 24}))
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	ts.Check(err)
	cmd, out, done := startShell(ts, args[0], ptmx, tty)

	expect := func(what string) {
		err := polltest.Wait(20*time.Second, func() error {
			select {
			case err := <-done:
				ts.Fatalf("tether exited (%v) before printing %q; screen:\n%s", err, what, out.String())
			default:
			}
			if !out.contains(what) {
				return errors.New("not on screen yet")
			}
			return nil
		})
		if err != nil {
			ts.Fatalf("no %q on screen after 20s; screen:\n%s", what, out.String())
		}
	}
	send := func(s string) {
		_, err := ptmx.Write([]byte(s))
		ts.Check(err)
	}
	send("echo READY-$((40+2))\r")
	expect("READY-42")
	// Resize the local terminal: the remote one follows.
	ts.Check(pty.Setsize(ptmx, &pty.Winsize{Cols: 123, Rows: 45}))
	// The resize travels apart from the keystrokes, so ask again until the answer shows it.
	var asked time.Time
	if polltest.Wait(20*time.Second, func() error {
		if out.contains("SIZE=45 123") {
			return nil
		}
		if time.Since(asked) > 200*time.Millisecond {
			send("echo SIZE=$(stty size)\r")
			asked = time.Now()
		}
		return errors.New("remote size not seen yet")
	}) != nil {
		ts.Fatalf("remote size never became 45x123; screen:\n%s", out.String())
	}
	// Ctrl-C reaches the remote process.
	// The foreground job prints and becomes sleep itself, so a ^C sent once SLEEPING-9
	// shows reaches sleep (a builtin echo before a forked sleep leaves a gap a ^C can
	// fall into).
	send("sh -c 'echo SLEEPING-$((3*3)); exec sleep 60'; echo NOT-$((0))-INTERRUPTED\r")
	expect("SLEEPING-9")
	send("\x03")
	send("echo AFTER-$((2+3))\r")
	expect("AFTER-5")
	if out.contains("NOT-0-INTERRUPTED") {
		ts.Fatalf("Ctrl-C did not interrupt the remote sleep")
	}
	send("exit 7\r")
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			ts.Fatalf("tether shell exited with %v, want status 7; screen:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("tether shell did not exit; screen:\n%s", out.String())
	}
	// The terminal is back in the mode it was in.
	tty2, err := os.OpenFile(ptsName(ts, ptmx), os.O_RDWR|unix.O_NOCTTY, 0)
	ts.Check(err)
	defer tty2.Close()
	after, err := unix.IoctlGetTermios(int(tty2.Fd()), unix.TCGETS)
	ts.Check(err)
	if before.Lflag != after.Lflag || before.Iflag != after.Iflag || before.Oflag != after.Oflag {
		ts.Fatalf("terminal not restored: lflag %#x -> %#x, iflag %#x -> %#x", before.Lflag, after.Lflag, before.Iflag, after.Iflag)
	}
	fmt.Fprintf(ts.Stdout(), "%s", out.String())
}

// ptyexpect TARGET INPUT WANT opens "tether shell TARGET" in a PTY, types INPUT and a
// return, waits for WANT on the screen, then exits the shell.
func cmdPTYExpect(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: ptyexpect TARGET INPUT WANT")
	}
	ptmx, cmd, out, done := shellTyped(ts, args[0], args[1], args[2])
	defer ptmx.Close()
	_, err := ptmx.Write([]byte("exit\r"))
	ts.Check(err)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("tether shell did not exit; screen:\n%s", out.String())
	}
	fmt.Fprintf(ts.Stdout(), "%s", out.String())
}

// shellTyped opens "tether shell TARGET" in a 120x40 PTY, types input and a return, and
// waits for want on the screen. The caller closes ptmx.
func shellTyped(ts *testscript.TestScript, target, input, want string) (ptmx *os.File, cmd *exec.Cmd, out *screen, done chan error) {
	ptmx, tty, err := pty.Open()
	ts.Check(err)
	ts.Check(pty.Setsize(ptmx, &pty.Winsize{Cols: 120, Rows: 40}))
	cmd, out, done = startShell(ts, target, ptmx, tty)
	_, err = ptmx.Write([]byte(input + "\r"))
	ts.Check(err)
	err = polltest.Wait(20*time.Second, func() error {
		if !out.contains(want) {
			return errors.New("not on screen yet")
		}
		return nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		ptmx.Close()
		ts.Fatalf("no %q on screen after 20s; screen:\n%s", want, out.String())
	}
	return ptmx, cmd, out, done
}

// startShell runs "tether shell TARGET" on the PTY whose ends are ptmx and tty, and
// copies what it shows to out; done gets its exit.
func startShell(ts *testscript.TestScript, target string, ptmx, tty *os.File) (*exec.Cmd, *screen, chan error) {
	cmd := exec.Command("tether", "shell", target)
	cmd.Env = append(environ(ts), "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true}
	ts.Check(cmd.Start())
	tty.Close()
	out := new(screen)
	go out.copy(ptmx)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, out, done
}

func ptsName(ts *testscript.TestScript, ptmx *os.File) string {
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	ts.Check(err)
	return "/dev/pts/" + strconv.Itoa(n)
}

type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) copy(f *os.File) {
	b := make([]byte, 4096)
	for {
		n, err := f.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *screen) contains(x string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.buf.Bytes(), []byte(x))
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// clientcfg FILE USER SEEDFILE writes a client config for USER against this script's broker.
func cmdClientConfig(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: clientcfg FILE USER SEEDFILE")
	}
	ts.Check(cliconfig.Write(ts.MkAbs(args[0]), &cliconfig.Config{BrokerURL: ts.Getenv("BROKER_URL"), User: args[1], NKeySeedFile: args[2]}))
}

// waitactive VAR waits until the admin sees an active, connected session and sets VAR to
// its id.
func cmdWaitActive(ts *testscript.TestScript, neg bool, args []string) {
	_, call := client(ts)
	poll(ts, "an active session", func() error {
		var r api.DescribeSessionsResponse
		if err := call(api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &r); err != nil {
			return err
		}
		for _, se := range r.Sessions {
			if se.State == api.StateConnected {
				ts.Setenv(args[0], se.ID)
				return nil
			}
		}
		return errors.New("none yet")
	})
}

// waitrecording ID waits until the recording of session ID is shipped.
func cmdWaitRecording(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitrecording SESSION_ID")
	}
	_, call := client(ts)
	poll(ts, "the recording of "+args[0], func() error {
		var r api.ListRecordingsResponse
		if err := call(api.VerbListRecordings, api.ListRecordingsRequest{}, &r); err != nil {
			return err
		}
		for _, rec := range r.Recordings {
			if rec.SessionID == args[0] {
				return nil
			}
		}
		return errors.New("not shipped yet")
	})
}

// agekey FILE VAR writes a new age identity to FILE and sets VAR to its public key.
func cmdAgeKey(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: agekey FILE VAR")
	}
	secret, public, err := seal.GenerateIdentity()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(secret+"\n"), 0o600))
	ts.Setenv(args[1], public)
}

// pagethrough MAX LIST ID MIN PROG ARGS... runs PROG ARGS --output json once for every
// page, --max-results MAX and each next_token in turn, and checks that no page holds
// more than MAX items, that no item (told by its field ID in the array LIST) comes
// twice, and that the pages hold the same items as one run without paging flags, at
// least MIN of them.
func cmdPageThrough(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 5 {
		ts.Fatalf("usage: pagethrough MAX LIST ID MIN PROG ARGS...")
	}
	max, err := strconv.Atoi(args[0])
	ts.Check(err)
	min, err := strconv.Atoi(args[3])
	ts.Check(err)
	list, idField, prog := args[1], args[2], args[4:]
	run := func(extra ...string) (ids []string, next string) {
		cmd := exec.Command(prog[0], append(append(append([]string{}, prog[1:]...), "--output", "json"), extra...)...)
		cmd.Dir = ts.MkAbs(".")
		cmd.Env = environ(ts)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			ts.Fatalf("%s %q: %v\n%s", prog[0], extra, err, stderr.String())
		}
		var page map[string]json.RawMessage
		ts.Check(json.Unmarshal(out, &page))
		var items []map[string]any
		ts.Check(json.Unmarshal(page[list], &items))
		for _, it := range items {
			id, _ := it[idField].(string)
			ids = append(ids, id)
		}
		if raw, ok := page["next_token"]; ok {
			ts.Check(json.Unmarshal(raw, &next))
		}
		return ids, next
	}
	all, next := run()
	if next != "" {
		ts.Fatalf("the listing without paging flags printed next_token %q", next)
	}
	seen := map[string]bool{}
	var pages int
	for token := ""; ; pages++ {
		if pages > 100 {
			ts.Fatalf("more than 100 pages of %d", max)
		}
		extra := []string{"--max-results", strconv.Itoa(max)}
		if token != "" {
			extra = append(extra, "--next-token", token)
		}
		ids, next := run(extra...)
		if len(ids) > max {
			ts.Fatalf("page %d holds %d items, more than --max-results %d: %q", pages+1, len(ids), max, ids)
		}
		for _, id := range ids {
			if seen[id] {
				ts.Fatalf("%s %s came twice (page %d)", idField, id, pages+1)
			}
			seen[id] = true
		}
		if next == "" {
			break
		}
		token = next
	}
	for _, id := range all {
		if !seen[id] {
			ts.Fatalf("%s %s is listed, but on no page of %d (%d pages, %d items paged of %d)", idField, id, max, pages+1, len(seen), len(all))
		}
	}
	if len(seen) != len(all) || len(all) < min {
		ts.Fatalf("%d items paged, %d listed, want equal and at least %d", len(seen), len(all), min)
	}
	fmt.Fprintf(ts.Stdout(), "%d %s in %d pages of at most %d\n", len(all), list, pages+1, max)
}

// killpid SIGNAL FILE sends SIGNAL (KILL, TERM, HUP, INT, STOP or CONT) to the process
// whose pid starts FILE: a state directory's lock file, or a pid a script wrote.
func cmdKillPID(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: killpid SIGNAL FILE")
	}
	sig := map[string]unix.Signal{"KILL": unix.SIGKILL, "TERM": unix.SIGTERM, "HUP": unix.SIGHUP, "INT": unix.SIGINT,
		"STOP": unix.SIGSTOP, "CONT": unix.SIGCONT}[args[0]]
	if sig == 0 {
		ts.Fatalf("killpid: unknown signal %s", args[0])
	}
	var pid int
	poll(ts, "a pid in "+args[1], func() error {
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		if err != nil {
			return err
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		pid, err = strconv.Atoi(first)
		return err
	})
	ts.Check(unix.Kill(pid, sig))
}

// waitended ID waits until session ID has ended, and prints it as JSON. With "-command
// NAME" instead of an ID it waits for an ended session whose command is NAME (a client
// may return before the broker records the end, as a reader of "| head" does).
func cmdWaitEnded(ts *testscript.TestScript, neg bool, args []string) {
	match := func(se api.Session) bool { return se.ID == args[0] }
	switch {
	case len(args) == 2 && args[0] == "-command":
		match = func(se api.Session) bool { return len(se.Command) > 0 && se.Command[0] == args[1] }
	case len(args) != 1:
		ts.Fatalf("usage: waitended SESSION_ID | -command NAME")
	}
	_, call := client(ts)
	var ended api.Session
	poll(ts, "the end of "+strings.Join(args, " "), func() error {
		req := api.DescribeSessionsRequest{State: "History"}
		for {
			var r api.DescribeSessionsResponse
			if err := call(api.VerbDescribeSessions, req, &r); err != nil {
				return err
			}
			for _, se := range r.Sessions {
				if match(se) {
					ended = se
					return nil
				}
			}
			if r.NextToken == "" {
				return errors.New("not ended yet")
			}
			req.NextToken = r.NextToken
		}
	})
	b, err := json.MarshalIndent(ended, "", "  ")
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%s\n", b)
}

// ptycrash TARGET LOCKFILE WANT opens "tether shell TARGET" in a PTY, waits for the shell,
// kills -9 the process holding LOCKFILE (the agent), and checks that the CLI exits within
// 20 s with status 255 and WANT on the screen.
func cmdPTYCrash(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: ptycrash TARGET LOCKFILE WANT")
	}
	ptmx, cmd, out, done := shellTyped(ts, args[0], "echo READY-$((40+2))", "READY-42")
	defer ptmx.Close()
	cmdKillPID(ts, false, []string{"KILL", args[1]})
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 255 {
			ts.Fatalf("tether shell exited with %v, want status 255; screen:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("tether shell still runs 20 s after its agent was killed; screen:\n%s", out.String())
	}
	// What it printed last may still be on its way from the PTY to the screen.
	if polltest.Wait(5*time.Second, func() error {
		if !out.contains(args[2]) {
			return errors.New("not on screen yet")
		}
		return nil
	}) != nil {
		ts.Fatalf("no %q on screen; screen:\n%s", args[2], out.String())
	}
	fmt.Fprintf(ts.Stdout(), "%s", out.String())
}

// serve KIND WHERE serves, for the rest of the script, on a free loopback port (WHERE
// is a variable to set to it) or on a unix socket (WHERE is a path: it holds a slash).
// KIND http answers every request with "hello from tether forward: PATH"; KIND echo
// sends back what it reads until EOF, then closes.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || args[0] != "http" && args[0] != "echo" {
		ts.Fatalf("usage: serve http|echo VAR|PATH")
	}
	var l net.Listener
	var err error
	if strings.Contains(args[1], "/") {
		l, err = net.Listen("unix", ts.MkAbs(args[1]))
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	ts.Check(err)
	if !strings.Contains(args[1], "/") {
		ts.Setenv(args[1], strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	var wg sync.WaitGroup
	if args[0] == "http" {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from tether forward: %s\n", r.URL.Path)
		})}
		wg.Go(func() { _ = srv.Serve(l) })
		ts.Defer(func() { srv.Close(); wg.Wait() })
		return
	}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := io.Copy(c, c); err == nil {
					_ = c.(interface{ CloseWrite() error }).CloseWrite()
				}
			})
		}
	})
	ts.Defer(func() { l.Close(); wg.Wait() })
}

// forwarding FILE VAR... waits until FILE (a tether forward's stdout) holds one
// "Forwarding LOCAL -> DEST" line per VAR, and sets each VAR to its line's LOCAL.
func cmdForwarding(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: forwarding FILE VAR...")
	}
	var locals []string
	poll(ts, fmt.Sprintf("%d Forwarding lines in %s", len(args)-1, args[0]), func() error {
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		if err != nil {
			return err
		}
		locals = locals[:0]
		for l := range strings.Lines(string(b)) {
			if f := strings.Fields(l); len(f) == 4 && f[0] == "Forwarding" && f[2] == "->" {
				locals = append(locals, f[1])
			}
		}
		if len(locals) < len(args)-1 {
			return fmt.Errorf("%d so far: %q", len(locals), b)
		}
		return nil
	})
	for i, v := range args[1:] {
		ts.Setenv(v, locals[i])
	}
}

// waitfile FILE REGEXP waits until FILE (a background command's output) matches REGEXP.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitfile FILE REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	poll(ts, fmt.Sprintf("%s to match %s", args[0], args[1]), func() error {
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		if err != nil {
			return err
		}
		if !re.Match(b) {
			return fmt.Errorf("no match in %q", b)
		}
		return nil
	})
}

// cmdOutBeyond checks that the session in the last command's stdout (waitended's JSON)
// sent at most MAX bytes more than its client wrote to FILE: what flow control lets an
// agent send ahead of a client that stopped reading. "outbeyond FILE MAX".
func cmdOutBeyond(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: outbeyond FILE MAX")
	}
	var se api.Session
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &se))
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	limit, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if beyond := int64(se.OutBytes) - fi.Size(); beyond > limit {
		ts.Fatalf("session %s sent %d bytes, %d more than its client wrote to %s (%d): want at most %d more",
			se.ID, se.OutBytes, beyond, args[0], fi.Size(), limit)
	}
}

// eventWatch is a consumer of session events as an admin sees them live (the user's
// import of tether.events.>): it prints one line per event, "TYPE SESSION_ID ID", until
// SIGINT, following the broker through restarts.
func eventWatch() int {
	c, err := cliconfig.Load(os.Getenv("TETHER_CONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	nc, err := c.Connect(nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond), nats.IgnoreAuthErrorAbort())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	var mu sync.Mutex
	_, err = nc.Subscribe(subjects.SessionEvent("*"), func(m *nats.Msg) {
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				Session struct {
					ID string `json:"session_id"`
				} `json:"session"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			fmt.Fprintln(os.Stderr, "malformed event:", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("%s %s %s\n", ev.Type, ev.Data.Session.ID, ev.ID)
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "watching")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}
