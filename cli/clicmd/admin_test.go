package clicmd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/cli/config"
	"github.com/tetherhq/tether/streams/wire/api"
)

func TestActivationCreate(t *testing.T) {
	e := newEnv(t)
	var got api.CreateActivationRequest
	e.handle(api.VerbCreateActivation, func(data []byte) (any, error) {
		got = decode[api.CreateActivationRequest](t, data)
		return api.Activation{ID: "act-1", Code: "secret-code", Tags: got.Tags, Limit: got.Limit,
			ExpiresAt: hb.Add(48 * time.Hour)}, nil
	})
	r := e.run("", "admin", "activation", "create", "--tags", "env=prod,role=web", "--tags", "team=a",
		"--limit", "5", "--expires", "48h", "--name", "web", "--description", "web fleet")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := api.CreateActivationRequest{Description: "web fleet", DefaultInstanceName: "web",
		Tags: map[string]string{"env": "prod", "role": "web", "team": "a"}, Limit: 5, Expires: "48h0m0s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request = %+v, want %+v", got, want)
	}
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Activation Code: secret-code\nActivation ID: act-1\nExpires: 2026-05-03T12:00:00Z\n\n" +
		"On each node, enroll and run the agent (its key is kept in /var/lib/tether-agent):\n" +
		"  tether-agent --broker " + cfg.BrokerURL + " --activation-id act-1 --activation-code secret-code\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = e.run("", "-o", "json", "admin", "activation", "create")
	if act := decode[api.Activation](t, []byte(r.stdout)); act.Code != "secret-code" || got.Limit != 1 || got.Expires != "24h0m0s" {
		t.Errorf("json %+v, request %+v", act, got)
	}
}

func TestUserAdd(t *testing.T) {
	e := newEnv(t)
	var got api.AddUserRequest
	e.handle(api.VerbAddUser, func(data []byte) (any, error) {
		got = decode[api.AddUserRequest](t, data)
		return api.Empty{}, nil
	})
	_, pub := newKey(t)
	r := e.run("", "admin", "user", "add", "bob", "--nkey", pub, "--group", "dev", "--group", "oncall", "--attr", "team=web")
	if r.code != 0 || r.stdout != "Added user bob\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	want := api.User{Name: "bob", NKey: pub, Groups: []string{"dev", "oncall"}, Attributes: map[string]string{"team": "web"}}
	if !reflect.DeepEqual(got.User, want) {
		t.Errorf("request = %+v, want %+v", got.User, want)
	}
}

// A seed given where the public key belongs is refused before anything is sent, without
// being repeated, and the error gives the public key.
func TestUserAddRefusesSeed(t *testing.T) {
	e := newEnv(t)
	added := false
	e.handle(api.VerbAddUser, func([]byte) (any, error) { added = true; return api.Empty{}, nil })
	seed, pub := newKey(t)
	r := e.run("", "admin", "user", "add", "bob", "--nkey", string(seed))
	want := "tether: --nkey: this is an NKEY seed, a private key: give its public key " + pub +
		" instead, and keep the seed secret (a seed given on a command line may be in your shell's history)\nTry: tether admin user add --help\n"
	if r.code != 2 || r.stderr != want || added {
		t.Errorf("exit %d, stderr %q, sent %v\nwant exit 2, stderr %q", r.code, r.stderr, added, want)
	}
	if strings.Contains(r.stdout+r.stderr, string(seed[2:])) {
		t.Errorf("the seed was repeated")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":     "nats://127.0.0.1:4222",
		"tls://a:4222,tls://b:4222": "tls://a:4222,tls://b:4222",
		"/etc/tether/my ca.pem":     "'/etc/tether/my ca.pem'",
		"it's":                      `'it'\''s'`,
		"":                          "''",
		"$(rm -rf /)":               "'$(rm -rf /)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
