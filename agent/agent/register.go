package agent

import (
	"context"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

const (
	defaultHeartbeat = 5 * time.Second
	callTimeout      = 5 * time.Second
)

// maintain registers on every (re)connect and heartbeats in between, until ctx is done.
// nats.go calls the ConnectHandler once the first connection is up (also when it comes
// only after retries) and the ReconnectHandler after each reconnect; both kick, and each
// kick is one registration.
func (a *Agent) maintain(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-a.reconnected:
	}
	for {
		resp, ok := a.register(ctx)
		if !ok {
			return
		}
		a.endSessions(resp.EndSessions, api.ReasonTerminated)
		interval := resp.HeartbeatInterval
		if interval <= 0 {
			interval = defaultHeartbeat
		}
		if !a.heartbeats(ctx, interval) {
			return
		}
	}
}

// heartbeats heartbeats every interval until a reconnect (true) or ctx is done (false).
func (a *Agent) heartbeats(ctx context.Context, interval time.Duration) bool {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-a.reconnected:
			return true
		case <-t.C:
			a.heartbeat(ctx)
		}
	}
}

// register calls Register until it succeeds or ctx is done.
func (a *Agent) register(ctx context.Context) (api.RegisterResponse, bool) {
	host, _ := os.Hostname()
	b := reconnectPolicy(a.cfg.ReconnectMax).Start()
	for attempt := 0; ; attempt++ {
		req := api.RegisterRequest{
			Hostname:     host,
			OS:           runtime.GOOS,
			Arch:         runtime.GOARCH,
			AgentVersion: a.cfg.Version,
			IPAddresses:  ipAddresses(),
			Sessions:     a.sessionIDs(),
		}
		var resp api.RegisterResponse
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := api.Call(cctx, a.nc, subjects.AgentAPI(a.id.instanceID, api.VerbRegister), req, &resp)
		cancel()
		if err == nil {
			a.log.Info("registered", logkey.Sessions, len(req.Sessions), logkey.Heartbeat, resp.HeartbeatInterval)
			return resp, true
		}
		if ctx.Err() != nil {
			return resp, false
		}
		a.log.Warn("register failed: retrying", logkey.Attempt, attempt+1, logkey.Err, err)
		if b.Wait(ctx) != nil {
			return resp, false
		}
	}
}

func (a *Agent) heartbeat(ctx context.Context) {
	var resp api.HeartbeatResponse
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req := api.HeartbeatRequest{Sessions: a.sessionIDs()}
	if err := api.Call(cctx, a.nc, subjects.AgentAPI(a.id.instanceID, api.VerbHeartbeat), req, &resp); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("heartbeat failed", logkey.Err, err)
		}
		return
	}
	a.endSessions(resp.EndSessions, api.ReasonTerminated)
}

// ipAddresses lists the host's addresses other than loopback and link-local ones.
func ipAddresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, ad := range addrs {
		ipn, ok := ad.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsLinkLocalMulticast() {
			continue
		}
		out = append(out, ipn.IP.String())
	}
	return out
}
