package brokerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/broker/control"
	"github.com/tetherhq/tether/broker/metrics"
	"github.com/tetherhq/tether/broker/natsembed"
	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/shipd"
	"github.com/tetherhq/tether/streams/statelock"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Options configure a broker.
type Options struct {
	Listen        string // host:port for clients; "" picks a free loopback port
	MonitorListen string
	ServerName    string
	// TLSCert and TLSKey (PEM files) make clients and agents connect with TLS.
	TLSCert, TLSKey string
	StateDir        string // JetStream files live in StateDir/jetstream
	PolicyDir       string // "" uses the shipped policy
	PolicyData      map[string]any
	Limits          jsdef.Limits
	// Admins are stored as users (groups include "admins") at every start.
	Admins []api.User
	// Shippers are the keys of shippers running outside the broker, by name.
	Shippers          map[string]string
	HeartbeatInterval time.Duration
	AgentLostAfter    time.Duration
	// ResumeWindow: see config.Config.ResumeWindow; config.DefaultResumeWindow when zero.
	ResumeWindow time.Duration
	AgentTimeout time.Duration
	Logger       *slog.Logger
	// Recordings say where recordings are shipped; the zero value ships to
	// StateDir/recordings with a shipper in this broker.
	Recordings shipd.Recordings
	// MetricsListen, when set, serves Prometheus metrics on host:port/metrics.
	MetricsListen string
	// SweepEvery and CapacityEvery are how often the control plane removes shipped
	// transcripts past their grace and reads the transcript stream's capacity (default a
	// minute and 5 seconds).
	SweepEvery, CapacityEvery time.Duration
}

// Broker is a running broker.
type Broker struct {
	NATS    *natsembed.Server
	Control *control.Service
	Dir     *principals.Directory
	nc      *nats.Conn
	agentNC *nats.Conn
	log     *slog.Logger
	// internal is the control plane's key, for in-process connections.
	internal nkeys.KeyPair
	// Shipper is the in-process shipper, nil with Recordings.NoShip.
	Shipper *ship.Shipper
	// Metrics serves /metrics when Options.MetricsListen is set.
	Metrics  *metrics.Server
	shipping *shipd.Workers

	lock *statelock.Lock

	closeOnce sync.Once
	closeErr  error
}

// Start starts a broker. A policy that does not compile stops it before anything listens.
func Start(ctx context.Context, o Options) (_ *Broker, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.StateDir == "" {
		return nil, errors.New("brokerd: a state directory is required")
	}
	if o.ServerName == "" {
		o.ServerName, _ = os.Hostname()
	}
	var dataOpts []policies.Option
	if o.PolicyData != nil {
		dataOpts = append(dataOpts, policies.WithData(o.PolicyData))
	}
	popts := dataOpts
	if o.PolicyDir != "" {
		popts = append([]policies.Option{policies.WithDir(o.PolicyDir)}, dataOpts...)
	}
	eval, err := policies.New(ctx, popts...)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	live := policies.NewLive(eval)
	dir := principals.New()
	// The NATS-level rights of an admin follow the admin groups of the policy in force.
	dir.SetAdminGroups(live.AdminGroups)
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("control-plane key: %w", err)
	}
	pub, _ := kp.PublicKey()
	dir.AddInternal(pub)
	for name, key := range o.Shippers {
		dir.PutShipper(name, key)
	}

	n := &Broker{Dir: dir, log: log}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	// One broker per state directory: a second one would take over the first one's
	// sessions and recordings.
	if n.lock, err = statelock.Acquire(o.StateDir, "tether-broker"); err != nil {
		return nil, err
	}
	n.NATS, err = natsembed.Start(natsembed.Options{
		Listen: o.Listen, MonitorListen: o.MonitorListen, ServerName: o.ServerName,
		StoreDir: filepath.Join(o.StateDir, "jetstream"), TLSCert: o.TLSCert, TLSKey: o.TLSKey,
		Resolver: dir, Logger: log, HoldPrincipals: true,
	})
	if err != nil {
		return nil, err
	}
	n.internal = kp
	n.nc, err = n.InternalConn("tether-control " + o.ServerName)
	if err != nil {
		return nil, fmt.Errorf("control-plane connection: %w", err)
	}
	// Agents' requests come in on a connection of their own: however many requests users
	// send, heartbeats do not queue behind them.
	n.agentNC, err = n.InternalConn("tether-control agents " + o.ServerName)
	if err != nil {
		return nil, fmt.Errorf("control-plane connection: %w", err)
	}
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, err
	}
	b, err := jsdef.Ensure(ctx, js, o.Limits)
	if err != nil {
		return nil, err
	}
	if b.TranscriptsReset {
		log.Warn("deleted and made again the transcript stream, which an earlier Tether made letting agents set their frames' TTL; the frames it held are gone")
	}
	if err := ship.EnsureConsumer(ctx, js); err != nil {
		return nil, err
	}
	uploader, err := shipd.OpenUploader(ctx, o.Recordings, o.StateDir)
	if err != nil {
		return nil, err
	}
	svc, err := control.New(control.Config{
		NC: n.nc, AgentNC: n.agentNC, Sessions: n.NATS, AgentConns: n.NATS, JS: js, Buckets: b, Directory: dir, Authorizer: live,
		TranscriptBudget:  o.Limits.Resolved().AgentTranscriptBytes,
		TranscriptReserve: o.Limits.Resolved().TranscriptReserve, ShippedGrace: o.Limits.Resolved().ShippedGrace,
		SweepEvery: o.SweepEvery, CapacityEvery: o.CapacityEvery,
		Policy: &policyLoader{live: live, opts: dataOpts}, ServerName: o.ServerName,
		Recordings: uploader,
		Emitter:    &events.Emitter{JS: js, Source: "tether-broker/" + o.ServerName},
		Logger:     log.With(logkey.Component, "control"), HeartbeatInterval: o.HeartbeatInterval,
		AgentLostAfter: o.AgentLostAfter, AgentTimeout: o.AgentTimeout, ResumeWindow: o.ResumeWindow,
		Revoke: n.revoke,
	})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	n.Control = svc
	// The sessions the control plane inherited are allowed, their accounts joined:
	// clients and agents that resubscribe to them find the imports in place.
	n.NATS.OpenToPrincipals()
	for _, u := range o.Admins {
		u.Groups = appendUnique(u.Groups, api.AdminGroup)
		if _, err := svc.PutUser(ctx, u, false); err != nil {
			return nil, fmt.Errorf("admin %s: %w", u.Name, err)
		}
	}
	reg := prometheus.NewRegistry()
	shipMetrics, err := ship.NewMetrics(reg, js)
	if err != nil {
		return nil, err
	}
	if err := metrics.RegisterTranscripts(reg, svc.TranscriptCapacity); err != nil {
		return nil, err
	}
	if o.MetricsListen != "" {
		if n.Metrics, err = metrics.Serve(o.MetricsListen, reg, log); err != nil {
			return nil, err
		}
	}
	if !o.Recordings.NoShip {
		n.shipping, err = shipd.Start(context.WithoutCancel(ctx), shipd.Config{
			JS: js, Buckets: b, Uploader: uploader, Recordings: o.Recordings,
			Name: o.ServerName, Logger: log, Metrics: shipMetrics,
			SpoolDir: filepath.Join(o.StateDir, "spool"),
		})
		if err != nil {
			return nil, err
		}
		n.Shipper = n.shipping.Shipper
	}
	log.Info("broker ready", logkey.URL, n.NATS.ClientURL(), logkey.ServerName, o.ServerName, logkey.StateDir, o.StateDir,
		logkey.Recordings, uploader.Describe())
	return n, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// revoke closes every client connection authenticated with nkey.
func (n *Broker) revoke(nkey string) {
	conns, err := n.NATS.Connz(&server.ConnzOptions{User: nkey, Username: true, Limit: 1 << 16})
	if err != nil {
		n.log.Error("list connections to revoke", logkey.NKey, nkey, logkey.Err, err)
		return
	}
	for _, c := range conns.Conns {
		if c.AuthorizedUser != nkey {
			continue
		}
		if err := n.NATS.DisconnectClientByID(c.Cid); err != nil {
			n.log.Warn("close revoked connection", logkey.NKey, nkey, logkey.CID, c.Cid, logkey.Err, err)
			continue
		}
		n.log.Info("closed the connection of a removed principal", logkey.NKey, nkey, logkey.CID, c.Cid)
	}
}

// shipDrainWait bounds how long Close waits for the shipper to catch up.
const shipDrainWait = 5 * time.Second

// InternalConn opens another in-process connection with the control plane's key and
// every permission: for in-process workers (and tests that play one), never for anything a
// user controls. The caller closes it.
func (n *Broker) InternalConn(name string) (*nats.Conn, error) {
	pub, _ := n.internal.PublicKey()
	// In-process: no socket and no TLS (the server offers TLS but does not require it
	// of in-process connections), whatever the client port does.
	return nats.Connect(strings.Replace(n.NATS.ClientURL(), "tls://", "nats://", 1),
		nats.InProcessServer(n.NATS),
		nats.Nkey(pub, n.internal.Sign),
		nats.CustomInboxPrefix(subjects.ControlPlaneInbox),
		nats.Name(name),
		nats.MaxReconnects(-1),
	)
}

// Conn is the control plane's own in-process connection, with every permission: for
// in-process workers and tests, never for anything a user controls.
func (n *Broker) Conn() *nats.Conn { return n.nc }

// URL is where clients and agents connect.
func (n *Broker) URL() string { return n.NATS.ClientURL() }

// Close ends active sessions (publishing their events), stops the control plane, drains
// its connection and shuts the server down. It is idempotent.
func (n *Broker) Close() error {
	n.closeOnce.Do(func() {
		if n.Control != nil {
			n.closeErr = n.Control.Close()
		}
		// Give the shipper a moment to ship the sessions just ended; what it has not
		// shipped by then is shipped after the next start (the events wait in the
		// stream), and a shipment under way is abandoned and delivered again.
		if n.shipping != nil {
			n.shipping.Drain(shipDrainWait)
			_ = n.shipping.Stop()
		}
		if n.Metrics != nil {
			_ = n.Metrics.Close()
		}
		for _, nc := range []*nats.Conn{n.agentNC, n.nc} {
			if nc == nil {
				continue
			}
			closed := make(chan struct{})
			nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
			if err := nc.Drain(); err == nil {
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
				}
			}
			nc.Close()
		}
		if n.NATS != nil {
			n.NATS.Close()
		}
		_ = n.lock.Release()
		n.log.Info("broker stopped")
	})
	return n.closeErr
}
