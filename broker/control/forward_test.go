package control

import (
	"net/netip"
	"path"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestCheckForward(t *testing.T) {
	for _, tc := range []struct {
		in   api.Forward
		want api.Forward
		err  string
	}{
		{in: api.Forward{Port: 80}, want: api.Forward{Port: 80}},
		{in: api.Forward{Host: "localhost", Port: 22}, want: api.Forward{Port: 22}},
		{in: api.Forward{Host: "LOCALHOST.", Port: 22}, want: api.Forward{Port: 22}},
		{in: api.Forward{Host: "Grafana.Internal", Port: 3000}, want: api.Forward{Host: "grafana.internal", Port: 3000}},
		{in: api.Forward{Host: "::ffff:169.254.169.254", Port: 80}, want: api.Forward{Host: "169.254.169.254", Port: 80}},
		{in: api.Forward{Host: "FD00:EC2::254", Port: 80}, want: api.Forward{Host: "fd00:ec2::254", Port: 80}},
		{in: api.Forward{UnixSocket: "/run/app.sock"}, want: api.Forward{UnixSocket: "/run/app.sock"}},
		{in: api.Forward{}, err: "port 0"},
		{in: api.Forward{Port: -1}, err: "port -1"},
		{in: api.Forward{Port: 65536}, err: "port 65536"},
		{in: api.Forward{Host: "db", Port: 1, UnixSocket: "/a"}, err: "takes no host or port"},
		{in: api.Forward{UnixSocket: "a.sock"}, err: "not absolute"},
		{in: api.Forward{UnixSocket: "/a//b.sock"}, err: "not clean"},
		{in: api.Forward{UnixSocket: "/a/"}, err: "not clean"},
		{in: api.Forward{UnixSocket: "/a\x00"}, err: "NUL"},
		{in: api.Forward{UnixSocket: "/\xff"}, err: "UTF-8"},
		{in: api.Forward{UnixSocket: "/" + strings.Repeat("a", 107)}, want: api.Forward{UnixSocket: "/" + strings.Repeat("a", 107)}},
		{in: api.Forward{UnixSocket: "/" + strings.Repeat("a", 108)}, err: "limit is 108"},
		{in: api.Forward{Host: "fe80::1%eth0", Port: 80}, err: "not a host name"},
		{in: api.Forward{Host: "a b", Port: 80}, err: "not a host name"},
		{in: api.Forward{Host: "10.1", Port: 80}, err: "last label is a number"},
		{in: api.Forward{Host: "db-1.2", Port: 80}, err: "last label is a number"},
	} {
		got, err := checkForward(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("checkForward(%+v) = %+v, %v; want an error about %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("checkForward(%+v) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzStartForwards: whatever destinations a request carries, those accepted are of one
// kind each, within bounds, and already canonical.
func FuzzStartForwards(f *testing.F) {
	f.Add([]byte(`{"target":"web-1","forwards":[{"port":80},{"host":"db-1","port":5432},{"unix_socket":"/run/x.sock"}]}`))
	f.Add([]byte(`{"target":"web-1","forwards":[{"host":"::ffff:1.2.3.4","port":1}]}`))
	f.Add([]byte(`{"target":"web-1","forwards":[{"host":"localhost","port":65535}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r api.StartSessionRequest
		if decodeRequest(api.VerbStartSession, b, &r, api.MaxRequest) != nil || validateStart(&r) != nil {
			return
		}
		fs, err := checkForwards(r.Forwards)
		if err != nil {
			return
		}
		if len(fs) > api.MaxForwards {
			t.Fatalf("accepted %d forwards", len(fs))
		}
		for _, f := range fs {
			if f.UnixSocket != "" {
				if f.Host != "" || f.Port != 0 || !path.IsAbs(f.UnixSocket) || path.Clean(f.UnixSocket) != f.UnixSocket ||
					len(f.UnixSocket) > maxUnixPath || strings.IndexByte(f.UnixSocket, 0) >= 0 {
					t.Fatalf("accepted %+v", f)
				}
			} else if f.Port < 1 || f.Port > 65535 || f.Host == "localhost" || strings.ContainsAny(f.Host, " %/\x00") {
				t.Fatalf("accepted %+v", f)
			}
			if again, err := checkForward(f); err != nil || again != f {
				t.Fatalf("canonical %+v is not: %+v, %v", f, again, err)
			}
		}
	})
}

// FuzzForwardClosedRequest: a report that passes the checks is one a record can hold.
func FuzzForwardClosedRequest(f *testing.F) {
	f.Add([]byte(`{"session_id":"alice-1","conn_id":7,"dest":0,"address":"127.0.0.1:80","peer":"127.0.0.1:5000","bytes_in":1,"bytes_out":2,` +
		`"opened_at":"2026-01-01T00:00:00Z","closed_at":"2026-01-01T00:01:00Z","reason":"client_close"}`))
	f.Add([]byte(`{"session_id":"alice-1","conn_id":8,"dest":1,"closed_at":"2026-01-01T00:01:00Z","reason":"refused","detail":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r api.ForwardClosedRequest
		if decodeRequest(api.VerbForwardClosed, b, &r, api.MaxRequest) != nil || checkForwardClosed(&r) != nil {
			return
		}
		if !fwdReasons[r.Reason] || r.ClosedAt.IsZero() || r.BytesIn > maxFwdBytes || r.BytesOut > maxFwdBytes ||
			len(r.Detail) > maxFwdDetail || len(r.Peer) > maxPeer || len(r.Address) > maxAddress {
			t.Fatalf("accepted %+v", r)
		}
		if !r.OpenedAt.IsZero() && (r.ClosedAt.Before(r.OpenedAt) || r.ClosedAt.Sub(r.OpenedAt) > maxFwdDuration) {
			t.Fatalf("accepted times %v .. %v", r.OpenedAt, r.ClosedAt)
		}
	})
}

// FuzzForwardOpenRequest: an accepted request names an address on the destination (the
// destination's port, or an absolute socket path), the IP policy sees is canonical, and
// on_node is said only of an IP.
func FuzzForwardOpenRequest(f *testing.F) {
	f.Add([]byte(`{"session_id":"alice-1","conn_id":7,"dest":0,"address":"10.0.0.5:10250","on_node":true,"peer":"127.0.0.1:5000"}`))
	f.Add([]byte(`{"session_id":"alice-1","conn_id":8,"dest":1,"address":"/run/pg.sock","peer":"./pg.sock"}`))
	f.Add([]byte(`{"session_id":"alice-1","conn_id":9,"dest":0,"address":"[::ffff:10.0.0.5%eth0]:10250"}`))
	dests := []api.Forward{{Host: "kubelet", Port: 10250}, {UnixSocket: "/run/pg.sock"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r api.ForwardOpenRequest
		if decodeRequest(api.VerbForwardOpen, b, &r, api.MaxRequest) != nil || checkForwardOpenText(&r) != nil {
			return
		}
		for _, d := range dests {
			ip, err := forwardOpenIP(&r, d)
			if err != nil {
				continue
			}
			if len(r.Peer) > maxPeer || len(r.Address) > maxAddress || strings.ContainsAny(r.Peer+r.Address, "\x00\n\r") {
				t.Fatalf("accepted %+v", r)
			}
			if d.UnixSocket != "" {
				if ip != "" || r.OnNode || (r.Address != "" && !path.IsAbs(r.Address)) {
					t.Fatalf("accepted %+v for a socket: ip %q", r, ip)
				}
				continue
			}
			a, err := netip.ParseAddr(ip)
			ap, _ := netip.ParseAddrPort(r.Address)
			if err != nil || a.String() != ip || a.Is4In6() || a.Zone() != "" || ap.Port() != uint16(d.Port) || ap.Addr().Unmap().WithZone("") != a {
				t.Fatalf("accepted %+v: ip %q", r, ip)
			}
		}
	})
}

func TestDialedAddress(t *testing.T) {
	tcp, sock := api.Forward{Host: "db", Port: 5432}, api.Forward{UnixSocket: "/run/pg.sock"}
	for _, tc := range []struct {
		f          api.Forward
		addr, ip   string
		errMessage string
	}{
		{f: tcp, addr: "10.0.0.1:5432", ip: "10.0.0.1"},
		{f: tcp, addr: "[::ffff:10.0.0.1]:5432", ip: "10.0.0.1"},
		{f: tcp, addr: "[fe80::1%eth0]:5432", ip: "fe80::1"},
		{f: tcp, addr: "10.0.0.1:5433", errMessage: "port 5432"},
		{f: tcp, addr: "db:5432", errMessage: "not ip:port"},
		{f: tcp, addr: "", errMessage: "not ip:port"},
		{f: sock, addr: "/run/pg.sock"},
		{f: sock, addr: "/var/lib/pg/real.sock"},
		{f: sock, addr: "pg.sock", errMessage: "not absolute"},
	} {
		ip, err := dialedAddress("X", tc.f, tc.addr)
		if tc.errMessage != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errMessage) {
				t.Errorf("dialedAddress(%+v, %q) = %q, %v; want an error about %q", tc.f, tc.addr, ip, err, tc.errMessage)
			}
			continue
		}
		if err != nil || ip != tc.ip {
			t.Errorf("dialedAddress(%+v, %q) = %q, %v; want %q", tc.f, tc.addr, ip, err, tc.ip)
		}
	}
}
