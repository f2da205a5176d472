package clicmd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

var hb = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

var instances = api.DescribeInstancesResponse{Instances: []api.Instance{
	{ID: "mi-0a1b2c", Name: "web-1", Hostname: "web-1.internal", OS: "linux", Arch: "amd64",
		AgentVersion: "0.1.0", PingStatus: api.PingOnline, LastHeartbeat: hb,
		IPAddresses: []string{"10.0.0.5", "fe80::1"}, Tags: map[string]string{"role": "web", "env": "prod"}},
	{ID: "mi-ffff", PingStatus: api.PingConnectionLost, LastHeartbeat: hb.Add(-time.Hour)},
}}

func TestDescribeInstances(t *testing.T) {
	e := newEnv(t)
	var got api.DescribeInstancesRequest
	e.handle(api.VerbDescribeInstances, func(data []byte) (any, error) {
		got = decode[api.DescribeInstancesRequest](t, data)
		return instances, nil
	})

	r := e.run("", "describe-instance-information", "--instance-ids", "mi-0a1b2c,mi-ffff")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := []string{"mi-0a1b2c", "mi-ffff"}; !reflect.DeepEqual(got.InstanceIDs, want) {
		t.Errorf("request instance ids = %v, want %v", got.InstanceIDs, want)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want 3:\n%s", len(lines), r.stdout)
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "INSTANCE ID NAME HOSTNAME PLATFORM AGENT VERSION PING STATUS LAST HEARTBEAT IP ADDRESSES TAGS" {
		t.Errorf("header = %q", lines[0])
	}
	want := []string{"mi-0a1b2c", "web-1", "web-1.internal", "linux/amd64", "0.1.0", "Online",
		"2026-05-01T12:00:00Z", "10.0.0.5,fe80::1", "env=prod,role=web"}
	if got := strings.Fields(lines[1]); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}
	if got := strings.Fields(lines[2]); !reflect.DeepEqual(got, []string{"mi-ffff", "-", "-", "-", "-", "ConnectionLost", "2026-05-01T11:00:00Z", "-", "-"}) {
		t.Errorf("row = %q", got)
	}
	if strings.Index(lines[0], "NAME") != strings.Index(lines[1], "web-1") {
		t.Errorf("columns not aligned:\n%s", r.stdout)
	}

	r = e.run("", "describe-instance-information", "--output", "json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := decode[api.DescribeInstancesResponse](t, []byte(r.stdout)); !reflect.DeepEqual(got, instances) {
		t.Errorf("json = %+v, want %+v", got, instances)
	}
}

func TestDescribeSessions(t *testing.T) {
	e := newEnv(t)
	sessions := api.DescribeSessionsResponse{Sessions: []api.Session{
		{ID: "alice-1a2b", Owner: "alice", Target: "web-1", Document: "Tether-StartInteractiveCommand",
			State: api.StateTerminated, Reason: api.ReasonExit, StartedAt: hb, EndedAt: hb.Add(time.Minute)},
	}}
	var got api.DescribeSessionsRequest
	e.handle(api.VerbDescribeSessions, func(data []byte) (any, error) {
		got = decode[api.DescribeSessionsRequest](t, data)
		if got.State == "Active" {
			return api.DescribeSessionsResponse{}, nil
		}
		return sessions, nil
	})

	r := e.run("", "describe-sessions", "--state", "history", "--target", "web-1", "--owner", "alice", "--max-results", "5")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := (api.DescribeSessionsRequest{State: "History", Target: "web-1", Owner: "alice", MaxResults: 5}); got != want {
		t.Errorf("request = %+v, want %+v", got, want)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SESSION ID") {
		t.Fatalf("table:\n%s", r.stdout)
	}
	want := []string{"alice-1a2b", "alice", "web-1", "Tether-StartInteractiveCommand", "Terminated",
		"2026-05-01T12:00:00Z", "2026-05-01T12:01:00Z", "exit"}
	if got := strings.Fields(lines[1]); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}

	r = e.run("", "-o", "json", "describe-sessions")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got.State != "Active" {
		t.Errorf("default state = %q, want Active", got.State)
	}
	if strings.TrimSpace(r.stdout) != "{\n  \"sessions\": []\n}" {
		t.Errorf("empty json = %q", r.stdout)
	}

	r = e.run("", "describe-sessions", "--state", "Gone")
	if r.code != 2 || !strings.Contains(r.stderr, `tether: --state "Gone": use Active or History`) {
		t.Errorf("bad state: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestWhoAmI(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbWhoAmI, func([]byte) (any, error) {
		return api.WhoAmIResponse{Principal: api.Principal{Name: "alice", Kind: "user", Groups: []string{"admins", "dev"}}}, nil
	})
	r := e.run("", "whoami")
	want := "Name:       alice\nKind:       user\nGroups:     admins,dev\nAttributes: -\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("whoami: exit %d, stdout %q, want %q (stderr %q)", r.code, r.stdout, want, r.stderr)
	}
}

func TestAccessDenied(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbStartSession, func([]byte) (any, error) {
		return nil, &api.Error{Code: api.CodeAccessDenied, Message: "not allowed to start a session on web-1",
			Reasons: []string{"web-1 is tagged env=prod", "alice is not on call"}}
	})
	r := e.run("", "start-session", "--target", "web-1", "--", "ls")
	want := "tether: not allowed to start a session on web-1\n  reason: web-1 is tagged env=prod\n  reason: alice is not on call\n"
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("exit %d\nstderr %q\nwant   %q\nstdout %q", r.code, r.stderr, want, r.stdout)
	}
}

func TestTerminateSessionNotFound(t *testing.T) {
	e := newEnv(t)
	e.handle(api.VerbTerminateSession, func(data []byte) (any, error) {
		req := decode[api.TerminateSessionRequest](t, data)
		if req.SessionID == "alice-1" {
			return api.TerminateSessionResponse{SessionID: req.SessionID}, nil
		}
		return nil, &api.Error{Code: api.CodeNotFound, Message: "no session " + req.SessionID}
	})
	if r := e.run("", "terminate-session", "alice-1"); r.code != 0 || r.stdout != "Terminated session alice-1\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run("", "terminate-session", "alice-2"); r.code != 1 || r.stderr != "tether: no session alice-2\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestNoControlPlane(t *testing.T) {
	e := newEnv(t)
	r := e.run("", "whoami")
	want := "tether: " + api.ErrNoControlPlane.Error() + "\nTry: tether-broker dev\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

func TestRefusedKey(t *testing.T) {
	e := newEnv(t)
	seed, pub := newKey(t)
	seedFile := t.TempDir() + "/other.nk"
	if err := writeNew(seedFile, seed); err != nil {
		t.Fatal(err)
	}
	cfg, err := configWithSeed(e.cfgPath, seedFile)
	if err != nil {
		t.Fatal(err)
	}
	e.cfgPath = cfg
	r := e.run("", "whoami")
	want := "tether: the broker refused the key in " + seedFile + " (public key " + pub + "): it is not user alice's, nor any user's it knows (config " + cfg + ")\n" +
		"Try: point nkey_seed_file in " + cfg + " at alice's key, or ask an admin to add this one: tether admin user add alice --nkey " + pub + "\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", "yaml", "whoami"}, "tether: output format \"yaml\": use table or json\nTry: tether whoami --help\n"},
		{[]string{"whoami", "--frobnicate"}, "tether: unknown flag: --frobnicate\nTry: tether whoami --help\n"},
		{[]string{"terminate-session"}, "tether: --session-id is required (or give it as the one argument)\nTry: tether terminate-session --help\n"},
		{[]string{"start-session", "--", "ls"}, "tether: --target is required\nTry: tether start-session --help\n"},
		{[]string{"start-session", "--target", "web-1"}, "tether: an interactive session needs a terminal on stdin; to run a command without one, give the command after --\nTry: tether start-session --target web-1 -- COMMAND [ARG...]\n"},
		{[]string{"admin", "user", "add", "bob", "--nkey", "SUAXXX"}, "tether: --nkey: this is an NKEY seed, a private key: give the user public key (U…) that tether keygen printed with it instead, and keep the seed secret (a seed given on a command line may be in your shell's history)\nTry: tether admin user add --help\n"},
		{[]string{"admin", "user", "add", "bob", "--nkey", "UAXXX"}, "tether: --nkey \"UAXXX\": not an NKEY user public key (U…)\nTry: tether admin user add --help\n"},
		{[]string{"play", "x", "--speed", "0"}, "tether: --speed 0: must be positive\nTry: tether play --help\n"},
	} {
		r := e.run("", tc.args...)
		if r.code != 2 || r.stderr != tc.want {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
