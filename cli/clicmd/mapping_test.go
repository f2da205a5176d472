package clicmd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestParseMapping(t *testing.T) {
	for _, tc := range []struct {
		arg       string
		localUnix bool
		want      mapping
		err       string
	}{
		{arg: "9999:80", want: mapping{localPort: 9999, dest: api.Forward{Port: 80}}},
		{arg: "0:22", want: mapping{dest: api.Forward{Port: 22}}},
		{arg: "65535:65535", want: mapping{localPort: 65535, dest: api.Forward{Port: 65535}}},
		{arg: "8443:grafana.internal:3000", want: mapping{localPort: 8443, dest: api.Forward{Host: "grafana.internal", Port: 3000}}},
		{arg: "5433:10.0.0.5:5432", want: mapping{localPort: 5433, dest: api.Forward{Host: "10.0.0.5", Port: 5432}}},
		{arg: "5433:[::1]:5432", want: mapping{localPort: 5433, dest: api.Forward{Host: "::1", Port: 5432}}},
		{arg: "5433:[FD00:0::1]:5432", want: mapping{localPort: 5433, dest: api.Forward{Host: "fd00::1", Port: 5432}}},
		{arg: "5000:unix:/var/run/docker.sock", want: mapping{localPort: 5000, dest: api.Forward{UnixSocket: "/var/run/docker.sock"}}},
		{arg: "5000:unix:/run/a:b.sock", want: mapping{localPort: 5000, dest: api.Forward{UnixSocket: "/run/a:b.sock"}}},
		{arg: "./pg.sock:5432", want: mapping{localPath: "./pg.sock", dest: api.Forward{Port: 5432}}},
		{arg: "/tmp/d.sock:unix:/var/run/docker.sock", want: mapping{localPath: "/tmp/d.sock", dest: api.Forward{UnixSocket: "/var/run/docker.sock"}}},
		{arg: "pg.sock:5432", localUnix: true, want: mapping{localPath: "pg.sock", dest: api.Forward{Port: 5432}}},
		{arg: "5432:5432", localUnix: true, want: mapping{localPath: "5432", dest: api.Forward{Port: 5432}}},
		{arg: "db_1.internal:5432", localUnix: true, want: mapping{localPath: "db_1.internal", dest: api.Forward{Port: 5432}}},

		{arg: "80", err: "want LOCAL:PORT, LOCAL:HOST:PORT or LOCAL:unix:/PATH"},
		{arg: "", err: "want LOCAL:PORT"},
		{arg: ":80", err: "no local port or socket"},
		{arg: "9999:", err: "nothing after LOCAL"},
		{arg: "65536:80", err: `local port "65536": not a port number (0-65535)`},
		{arg: "-1:80", err: `local port "-1": not a port number`},
		{arg: "+80:80", err: `local port "+80": not a port number`},
		{arg: "0x50:80", err: `local port "0x50": not a port number`},
		{arg: "pg.sock:80", err: "a unix socket path needs a slash, ./pg.sock, or --local-unix-socket"},
		{arg: "9999:0", err: "port 0: not a destination"},
		{arg: "9999:65536", err: `port "65536": not a port number (0-65535)`},
		{arg: "9999:http", err: `port "http": not a port number`},
		{arg: "9999: 80", err: `port " 80": not a port number`},
		{arg: "9999:db:", err: `port "": empty`},
		{arg: "9999::80", err: "empty host before the port"},
		{arg: "9999:::1:5432", err: "too many colons"},
		{arg: "9999:fd00::1:5432", err: "too many colons (an IPv6 address goes in brackets: [::1]:5432)"},
		{arg: "9999:[::1]", err: "want [IPV6]:PORT"},
		{arg: "9999:[::1:5432", err: "no closing bracket"},
		{arg: "9999:[10.0.0.1]:80", err: "not an IPv6 address in brackets"},
		{arg: "9999:[::ffff:10.0.0.1]:80", err: "not an IPv6 address in brackets"},
		{arg: "9999:[db]:80", err: "not an IPv6 address in brackets"},
		{arg: "9999:-oProxyCommand=x:22", err: `starts with '-'`},
		{arg: "9999:a b:22", err: `' ' is not allowed in a host name`},
		{arg: "9999:db/x:22", err: `'/' is not allowed`},
		{arg: "9999:unix:", err: "unix: names no socket path"},
		{arg: "9999:unix:run/docker.sock", err: "not a clean absolute path"},
		{arg: "9999:unix:/run/../docker.sock", err: "not a clean absolute path"},
		{arg: "9999:unix:/" + strings.Repeat("a", 120), err: "at most 107"},
		{arg: "./" + strings.Repeat("a", 120) + ":80", err: "local socket path of 122 bytes: at most 107"},
	} {
		got, err := parseMapping(tc.arg, tc.localUnix)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseMapping(%q) = %+v, %v; want error with %q", tc.arg, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseMapping(%q) = %+v, %v; want %+v", tc.arg, got, err, tc.want)
		}
	}
}

func TestParseMappings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{args: []string{"9999:80", "5433:5432", "8443:grafana.internal:3000"}},
		{args: []string{"0:80", "0:80"}}, // free ports never collide
		{args: nil, err: "missing MAPPING"},
		{args: []string{"9999:80", "9999:81"}, err: `mapping "9999:81": local port 9999 is already used by "9999:80"`},
		{args: []string{"./a.sock:80", "a.sock:81"}, err: `local socket a.sock is already used by "./a.sock:80"`},
		{args: []string{"9999:80", "bad"}, err: `mapping "bad"`},
		{args: make([]string, api.MaxForwards+1), err: "at most 32"},
	} {
		_, err := parseMappings(tc.args, false)
		if tc.args != nil && tc.args[0] == "./a.sock:80" {
			_, err = parseMappings(tc.args, true)
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseMappings(%q) = %v, want error %q", tc.args, err, tc.err)
		}
	}
}

func TestDestinations(t *testing.T) {
	ms, err := parseMappings([]string{"9999:80", "0:db:5432", "9998:80", "./a.sock:db:5432"}, false)
	if err != nil {
		t.Fatal(err)
	}
	dests, index := destinations(ms)
	if want := []api.Forward{{Port: 80}, {Host: "db", Port: 5432}}; !reflect.DeepEqual(dests, want) {
		t.Errorf("destinations = %+v, want %+v", dests, want)
	}
	if want := []int{0, 1, 0, 1}; !reflect.DeepEqual(index, want) {
		t.Errorf("index = %v, want %v", index, want)
	}
}
