package agent

import (
	"context"
	"errors"
	"fmt"
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

// maintain registers on every (re)connect and heartbeats in between, until ctx is done
// (nil) or the broker refuses this process (ErrSecondAgent). nats.go calls the
// ConnectHandler once the first connection is up (also when it comes only after retries)
// and the ReconnectHandler after each reconnect; both kick, and each kick is one
// registration.
func (a *Agent) maintain(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-a.reconnected:
	}
	for {
		resp, err := a.register(ctx)
		if err != nil || ctx.Err() != nil {
			return err
		}
		a.endSessions(resp.EndSessions, api.ReasonTerminated)
		interval := resp.HeartbeatInterval
		if interval <= 0 {
			interval = defaultHeartbeat
		}
		if again, err := a.heartbeats(ctx, interval); !again {
			return err
		}
	}
}

// heartbeats heartbeats every interval until a reconnect (true), ctx is done (false,
// nil) or the broker refuses this process (false, ErrSecondAgent).
func (a *Agent) heartbeats(ctx context.Context, interval time.Duration) (bool, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case <-a.reconnected:
			return true, nil
		case <-t.C:
			if err := a.heartbeat(ctx); err != nil {
				return false, err
			}
		}
	}
}

// refused turns the broker's refusal of this process (another agent process with the
// same key is connected) into ErrSecondAgent; other errors are for retrying.
func refused(err error) error {
	var e *api.Error
	if errors.As(err, &e) && e.Code == api.CodeConflict {
		return fmt.Errorf("%w: %s", ErrSecondAgent, e.Message)
	}
	return nil
}

// register calls Register until it succeeds, ctx is done (an empty response, nil) or the
// broker refuses this process (ErrSecondAgent): that one is not retried. The broker
// refuses a second process only while the first is connected and heartbeating; the
// first is probably a copy of this node's key (a copied state directory, a cloned disk)
// and waiting would not help, while staying connected would: this process subscribes to
// the instance's control subject, and would start every session the first one is asked
// to, a second time. A process whose host vanished (power lost) stops heartbeating,
// and after the broker's agent-lost delay is no longer in the way: the service manager's
// restart then gets in.
func (a *Agent) register(ctx context.Context) (api.RegisterResponse, error) {
	host, _ := os.Hostname()
	b := reconnectPolicy(a.cfg.ReconnectMax).Start()
	for attempt := 0; ; attempt++ {
		req := api.RegisterRequest{
			RunID:        a.runID,
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
			a.log.Info("registered", logkey.RunID, a.runID, logkey.Sessions, len(req.Sessions), logkey.Heartbeat, resp.HeartbeatInterval)
			return resp, nil
		}
		if ctx.Err() != nil {
			return api.RegisterResponse{}, nil
		}
		if err := refused(err); err != nil {
			a.log.Error("the broker refused this agent: another agent process with this identity is connected", logkey.RunID, a.runID, logkey.Err, err)
			return api.RegisterResponse{}, err
		}
		a.log.Warn("register failed: retrying", logkey.Attempt, attempt+1, logkey.Err, err)
		if b.Wait(ctx) != nil {
			return api.RegisterResponse{}, nil
		}
	}
}

// heartbeat sends one heartbeat. It returns ErrSecondAgent when the broker has another
// process of this instance registered (it replaced this one while this one was away);
// other failures are logged, and the next tick tries again.
func (a *Agent) heartbeat(ctx context.Context) error {
	var resp api.HeartbeatResponse
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req := api.HeartbeatRequest{RunID: a.runID, Sessions: a.sessionIDs()}
	if err := api.Call(cctx, a.nc, subjects.AgentAPI(a.id.instanceID, api.VerbHeartbeat), req, &resp); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if err := refused(err); err != nil {
			a.log.Error("the broker refused this agent's heartbeat: another agent process with this identity is registered", logkey.RunID, a.runID, logkey.Err, err)
			return err
		}
		a.log.Warn("heartbeat failed", logkey.Err, err)
		return nil
	}
	a.endSessions(resp.EndSessions, api.ReasonTerminated)
	return nil
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
