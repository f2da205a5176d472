package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/fwd"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Port forwarding timings.
const (
	dialTimeout = 10 * time.Second
	// connsDrain bounds how long a forwarding session's end waits for its connections
	// to wind up and report themselves.
	connsDrain = 5 * time.Second
)

// forwarding is the port forwarding half of a session: the Mux of its connections and
// what they need.
type forwarding struct {
	mux    *fwd.Mux
	mu     sync.Mutex
	closed bool // the session is ending: Wait may have begun
	conns  sync.WaitGroup
}

// track counts a connection the session's end waits for; false once it is ending.
func (f *forwarding) track() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns.Add(1)
	return true
}

// close ends the session's connections and waits (at most connsDrain) for them to report.
func (f *forwarding) close(reason string, log interface{ Warn(string, ...any) }) {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.mux.Close(reason)
	done := make(chan struct{})
	go func() { f.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(connsDrain):
		log.Warn("forwarded connections still winding up at the session's end")
	}
}

// checkForwards refuses destinations that are not ones, and a command beside them.
func checkForwards(s *api.AgentStart) error {
	if len(s.Forwards) == 0 {
		return nil
	}
	if len(s.Forwards) > api.MaxForwards {
		return fmt.Errorf("forwards: %d destinations, at most %d", len(s.Forwards), api.MaxForwards)
	}
	if len(s.Command) > 0 || s.Interactive {
		return errors.New("forwards: a port forwarding session runs no command")
	}
	for i, f := range s.Forwards {
		if err := f.Check(); err != nil {
			return fmt.Errorf("forwards[%d]: %w", i, err)
		}
	}
	return nil
}

// runForward serves the session's forwarded connections until the session ends.
func (s *session) runForward() {
	s.watch.Start(s.limitReached)
	s.ch.Bind(noProcess{})
	stopWatch := make(chan struct{})
	go s.watchClient(stopWatch)
	select {
	case <-s.ended.Done():
	case <-s.ch.Failed():
		s.end(api.ReasonRecordingFailed)
	}
	close(stopWatch)
	s.watch.Close()
	reason := s.endReason()
	s.fwd.close(reason, s.log)
	s.finish(-1, reason, "")
}

// acceptConn serves one connection the client opened: it resolves the destination, asks
// the control plane, dials, splices, and reports how it went.
func (s *session) acceptConn(c *fwd.Conn, o fwd.Open) {
	if s.fwd.track() {
		defer s.fwd.conns.Done()
	}
	log := s.log.With(logkey.Conn, o.ID, logkey.Dest, o.Dest)
	rep := api.ForwardClosedRequest{SessionID: s.id, ConnID: o.ID, Dest: int(o.Dest), Peer: o.Peer, OpenedAt: time.Now().UTC()}
	defer func() {
		rep.ClosedAt = time.Now().UTC()
		log.Info("forwarded connection ended", logkey.Reason, rep.Reason, logkey.Address, rep.Address, logkey.BytesIn, rep.BytesIn, logkey.BytesOut, rep.BytesOut)
		s.a.report(api.VerbForwardClosed, rep, log)
	}()
	refuse := func(reason, msg string) {
		rep.Reason, rep.Detail = reason, msg
		c.Refuse(msg)
	}
	if int(o.Dest) >= len(s.start.Forwards) {
		refuse(api.FwdError, fmt.Sprintf("the session has no destination %d", o.Dest))
		return
	}
	d := s.start.Forwards[o.Dest]
	ctx, cancel := context.WithTimeout(s.ended, dialTimeout)
	defer cancel()
	network, addr, err := resolve(ctx, d)
	if err != nil {
		refuse(api.FwdRefused, err.Error())
		return
	}
	rep.Address = addr
	var dec api.ForwardOpenResponse
	cctx, ccancel := context.WithTimeout(ctx, callTimeout)
	err = api.Call(cctx, s.a.nc, subjects.AgentAPI(s.a.id.instanceID, api.VerbForwardOpen), api.ForwardOpenRequest{
		SessionID: s.id, ConnID: o.ID, Dest: int(o.Dest), Address: addr, OnNode: network == "tcp" && ownAddress(addr), Peer: o.Peer,
	}, &dec)
	ccancel()
	switch {
	case err != nil:
		refuse(api.FwdError, "the control plane could not decide on the connection: "+err.Error())
		return
	case !dec.Allowed:
		msg := "denied by policy"
		if len(dec.Reasons) > 0 {
			msg += ": " + strings.Join(dec.Reasons, "; ")
		}
		refuse(api.FwdPolicy, msg)
		return
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		refuse(api.FwdRefused, err.Error())
		return
	}
	if err := c.Accept(); err != nil {
		conn.Close()
		rep.Reason, rep.Detail = api.FwdError, err.Error()
		return
	}
	rep.OpenedAt = c.OpenedAt().UTC()
	e := fwd.Splice(c, conn)
	rep.BytesIn, rep.BytesOut = c.Bytes()
	switch {
	case e.Reset != "" && s.ended.Err() != nil:
		rep.Reason = api.FwdSessionEnd
	case e.Reset != "":
		rep.Reason, rep.Detail = api.FwdClientClose, e.Reset
	case e.Err != nil:
		rep.Reason, rep.Detail = api.FwdError, e.Err.Error()
	case e.LocalFirst:
		rep.Reason = api.FwdServerClose
	default:
		rep.Reason = api.FwdClientClose
	}
}

// ownAddress reports whether addr ("ip:port") is an address of one of the node's own
// interfaces (loopback's too): a service listening on every interface is the node's
// there as well.
func ownAddress(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap().WithZone("") == ip.WithZone("") {
			return true
		}
	}
	return false
}

// resolve names what to dial for d: the unix socket, or the first address the node
// resolves the host to ("" is the node itself). The address dialled is the one the policy
// decided on: the name is not looked up again.
func resolve(ctx context.Context, d api.Forward) (network, addr string, err error) {
	if d.UnixSocket != "" {
		return "unix", d.UnixSocket, nil
	}
	host := d.Host
	if host == "" {
		host = "localhost"
	}
	port := strconv.Itoa(d.Port)
	if ip, err := netip.ParseAddr(host); err == nil {
		return "tcp", net.JoinHostPort(ip.String(), port), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "", "", fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return "", "", fmt.Errorf("cannot resolve %s: no address", host)
	}
	// Prefer IPv4 for the node itself: services listening on 127.0.0.1 only are common.
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip
			break
		}
	}
	return "tcp", net.JoinHostPort(best.Unmap().String(), port), nil
}

// newForwarding makes the Mux of a port forwarding session.
func (s *session) newForwarding(touch func()) *forwarding {
	f := &forwarding{}
	f.mux = fwd.NewMux(fwd.Config{
		Send: func(t frame.Type, flags uint8, buf []byte) error { return s.ch.SendCtl(t, flags, buf) },
		Accept: func(c *fwd.Conn, o fwd.Open) {
			s.acceptConn(c, o)
		},
		OnData: touch,
		Shared: s.a.fwdBudget,
	})
	return f
}
