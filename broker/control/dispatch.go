package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Dispatch limits: a principal may have PerPrincipal requests in flight at once; past
// that it is told it is busy. Each kind of caller has a pool of its own, so that users
// can never take the slots agents' liveness traffic needs.
const (
	PerPrincipal = 16
	userSlots    = 512
	agentSlots   = 512
	enrollSlots  = 64
	// The connections of port forwarding sessions (ForwardOpen, ForwardClosed) have a
	// pool of their own, sized for an agent opening many connections at once, so that a
	// burst of them never takes the slots of the agents' heartbeats.
	forwardSlots        = 2048
	forwardPerPrincipal = 256
	requestInfoHdr      = "Nats-Request-Info" // written by the server on an import crossing
	// queueGroup shares requests between the control planes of several brokers.
	queueGroup = "tether-control"
)

// caller is who sent a request, as the server says: never a field of the body.
type caller struct {
	name      string // user, instance id, or enrolling agent's key
	kind      string
	principal api.Principal
	// key counts the caller's requests in flight: its account.
	key string
	// sourceIP is the address the caller's connection comes from, as the server saw it
	// (the host of the Nats-Request-Info header); "" when it has none: an in-process
	// connection, or the service account's own.
	sourceIP string
	// conn is the server's id of the caller's connection (the id of the Nats-Request-Info
	// header); 0 when it has none.
	conn uint64
}

type routeKey struct {
	kind accounts.Kind
	verb string
}

// pool bounds the requests of one kind of caller in flight: in all, and per principal.
type pool struct {
	name  string
	slots chan struct{}
	per   int // the most one principal may have in flight
	mu    sync.Mutex
	busy  map[string]int
}

func newPool(name string, n int) *pool { return newPoolPer(name, n, PerPrincipal) }

func newPoolPer(name string, n, per int) *pool {
	return &pool{name: name, slots: make(chan struct{}, n), per: per, busy: map[string]int{}}
}

// acquire takes a slot for principal, or says why there is none.
func (p *pool) acquire(principal string) error {
	p.mu.Lock()
	if p.busy[principal] >= p.per {
		p.mu.Unlock()
		return &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf(
			"busy: %d of your requests are in flight, the most one principal may have; retry once they are answered", p.per)}
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.mu.Unlock()
		return &api.Error{Code: api.CodeUnavailable, Message: "busy: the control plane is serving as many requests as it can; retry shortly"}
	}
	p.busy[principal]++
	p.mu.Unlock()
	return nil
}

func (p *pool) release(principal string) {
	p.mu.Lock()
	if p.busy[principal]--; p.busy[principal] <= 0 {
		delete(p.busy, principal)
	}
	p.mu.Unlock()
	<-p.slots
}

// dispatcher receives API requests, says who sent them, checks that the answer goes back
// to the sender only, bounds what each principal has in flight, and runs the verb's
// endpoint off the subscription's goroutine.
type dispatcher struct {
	s      *Service
	routes map[routeKey]endpoint
	pools  map[accounts.Kind]*pool
	// forwards is the pool of the endpoints that declare ownPool.
	forwards *pool
	subs     []*nats.Subscription
}

func newDispatcher(s *Service, eps []endpoint) (*dispatcher, error) {
	d := &dispatcher{s: s, routes: map[routeKey]endpoint{}, pools: map[accounts.Kind]*pool{
		accounts.KindUser:       newPool("users", userSlots),
		accounts.KindAgent:      newPool("agents", agentSlots),
		accounts.KindEnrollment: newPool("enrollments", enrollSlots),
	}, forwards: newPoolPer("agents' forwarded connections", forwardSlots, forwardPerPrincipal)}
	for _, e := range eps {
		if err := e.check(); err != nil {
			return nil, err
		}
		k := routeKey{e.kind, e.verb}
		if _, dup := d.routes[k]; dup {
			return nil, fmt.Errorf("endpoint %s %s registered twice", e.kind, e.verb)
		}
		d.routes[k] = e
	}
	return d, nil
}

// start subscribes: users' requests on one connection, agents' and enrolling agents' on
// another, so that a flood of user requests never queues ahead of a heartbeat.
func (d *dispatcher) start(userNC, agentNC *nats.Conn) error {
	for _, sub := range []struct {
		nc      *nats.Conn
		subject string
		kind    accounts.Kind
	}{
		{userNC, subjects.APIAll, accounts.KindUser},
		{agentNC, subjects.AgentAPIAll, accounts.KindAgent},
		{agentNC, subjects.EnrollAll, accounts.KindEnrollment},
	} {
		kind, nc := sub.kind, sub.nc
		s, err := nc.QueueSubscribe(sub.subject, queueGroup, func(m *nats.Msg) { d.receive(nc, kind, m) })
		if err != nil {
			d.stop()
			return fmt.Errorf("subscribe %s: %w", sub.subject, err)
		}
		// The handler only reads the subject and headers and hands the request on: a
		// deep queue rather than the server cutting a slow consumer off.
		_ = s.SetPendingLimits(-1, 256<<20)
		d.subs = append(d.subs, s)
	}
	return nil
}

// stop unsubscribes; requests in flight finish (the service waits for them).
func (d *dispatcher) stop() {
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
	d.subs = nil
}

// receive runs on the subscription's goroutine: it must not block. The answer leaves on
// the connection the request came in on.
func (d *dispatcher) receive(nc *nats.Conn, kind accounts.Kind, m *nats.Msg) {
	s := d.s
	c, reply, err := d.identify(kind, m)
	if err != nil {
		s.refusal(kind, m.Subject, err)
		if reply != "" {
			s.replyErr(nc, reply, err)
		}
		return
	}
	_, verb, _ := subjectVerb(kind, m.Subject)
	ep, ok := d.routes[routeKey{kind, verb}]
	if !ok {
		s.replyErr(nc, reply, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("no such verb %.64q", verb)})
		return
	}
	if len(m.Data) > ep.limit {
		s.replyErr(nc, reply, &api.Error{Code: api.CodeBadRequest,
			Message: fmt.Sprintf("%s request is %d bytes; the limit is %d", verb, len(m.Data), ep.limit)})
		return
	}
	p := d.pools[kind]
	if ep.ownPool {
		p = d.forwards
	}
	if err := p.acquire(c.key); err != nil {
		s.refusal(kind, c.key, fmt.Errorf("%s busy (%s): %w", verb, p.name, err))
		s.replyErr(nc, reply, err)
		return
	}
	start := s.now()
	data := m.Data
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer p.release(c.key)
		ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.AgentTimeout)
		defer cancel()
		var after afterReply
		ctx = context.WithValue(ctx, afterReplyKey{}, &after)
		defer func() {
			if len(after.fns) > 0 {
				_ = nc.FlushTimeout(time.Second) // the answer is with the server first
				after.run()
			}
		}()
		resp, err := ep.serve(ctx, c, data)
		log := s.log.With(logkey.Verb, verb, logkey.User, c.name, logkey.Duration, s.now().Sub(start))
		if err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) {
				log.Error("request failed", logkey.Err, err)
				ae = &api.Error{Code: api.CodeInternal, Message: verb + " failed on the broker; see its log"}
			} else {
				log.Debug("request refused", logkey.Code, ae.Code, logkey.Err, ae.Message)
			}
			s.replyErr(nc, reply, ae)
			return
		}
		log.Debug("request served")
		s.reply(nc, reply, resp)
	}()
}

// afterReply holds what a handler wants done once its answer is sent (closing the
// caller's own connection, say, which would lose the answer if done first).
type afterReply struct{ fns []func() }

type afterReplyKey struct{}

func (a *afterReply) run() {
	for _, f := range a.fns {
		f()
	}
}

// whenAnswered runs f once the request of ctx is answered, or at once outside a request.
func whenAnswered(ctx context.Context, f func()) {
	if a, ok := ctx.Value(afterReplyKey{}).(*afterReply); ok {
		a.fns = append(a.fns, f)
		return
	}
	f()
}

// identify says who sent m, from what the server wrote on it, and where its answer may go.
//
// A principal's request crossed into the service account through its account's import:
// the server wrote which account it came from in the Nats-Request-Info header (replacing
// any the sender wrote) and gave it a reply subject of its own making, "_R_.…", which
// leads back to the sender's account only. That account names the caller; the subject
// must name the same principal. A request from inside the service account (the broker's
// own connections) carries no such header and must have its reply in the control
// plane's inbox. Anything else is refused, unanswered.
func (d *dispatcher) identify(kind accounts.Kind, m *nats.Msg) (caller, string, error) {
	name, _, ok := subjectVerb(kind, m.Subject)
	if !ok {
		return caller{}, "", fmt.Errorf("malformed API subject %.128q", m.Subject)
	}
	if m.Reply == "" {
		return caller{}, "", errors.New("request without a reply subject")
	}
	from, host, conn := "", "", uint64(0)
	if h := m.Header.Get(requestInfoHdr); h != "" {
		var info struct {
			Account string `json:"acc"`
			Host    string `json:"host"`
			ID      uint64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(h), &info); err != nil {
			return caller{}, "", fmt.Errorf("unreadable %s header", requestInfoHdr)
		}
		from, host, conn = info.Account, info.Host, info.ID
	}
	c := caller{name: name, kind: string(kind), conn: conn}
	if ip, err := netip.ParseAddr(host); err == nil {
		c.sourceIP = ip.Unmap().WithZone("").String()
	}
	switch {
	case from == "" || from == accounts.Service:
		if !strings.HasPrefix(m.Reply, subjects.ControlPlaneInbox+".") {
			return caller{}, "", fmt.Errorf("reply subject %.128q is outside the service account's inbox", m.Reply)
		}
		c.key = accounts.Service
	default:
		if !strings.HasPrefix(m.Reply, "_R_.") {
			return caller{}, "", fmt.Errorf("reply subject %.128q of an imported request is not the server's", m.Reply)
		}
		k, who, ok := accounts.Parse(from)
		if !ok || k != kind {
			return caller{}, "", fmt.Errorf("a request from account %.80q on %s", from, m.Subject)
		}
		if who != name {
			return caller{}, "", fmt.Errorf("account %s asked on %s", from, m.Subject)
		}
		c.key = from
	}
	reply := m.Reply
	switch kind {
	case accounts.KindUser:
		u, found := d.s.dir.User(name)
		if !found {
			return caller{}, reply, &api.Error{Code: api.CodeAccessDenied, Message: "user " + name + " no longer exists"}
		}
		c.principal = api.Principal{Name: u.Name, Kind: string(kind), Groups: u.Groups, Attributes: u.Attributes}
	case accounts.KindAgent:
		c.principal = api.Principal{Name: name, Kind: string(kind)}
	case accounts.KindEnrollment:
		act, _, _ := subjects.EnrollParts(m.Subject)
		c.principal = api.Principal{Name: act, Kind: string(kind)}
	}
	return c, reply, nil
}

// subjectVerb reads the caller's name and the verb from an API subject of kind.
func subjectVerb(kind accounts.Kind, subject string) (name, verb string, ok bool) {
	switch kind {
	case accounts.KindEnrollment:
		_, nkey, ok := subjects.EnrollParts(subject)
		return nkey, "Enroll", ok
	default:
		return subjects.APIParts(subject)
	}
}

// maxErrorText bounds the message of an error answer.
const maxErrorText = 1024

// reply answers a request with resp as JSON.
func (s *Service) reply(nc *nats.Conn, subject string, resp any) {
	b, err := json.Marshal(resp)
	if err != nil {
		s.replyErr(nc, subject, &api.Error{Code: api.CodeInternal, Message: "encode response: " + err.Error()})
		return
	}
	if err := nc.Publish(subject, b); err != nil {
		s.log.Warn("respond", logkey.Err, err)
	}
}

// replyErr answers a request with an API error, as micro would: the code and message in
// headers, the error as JSON in the body.
func (s *Service) replyErr(nc *nats.Conn, subject string, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		e = &api.Error{Code: api.CodeBadRequest, Message: err.Error()}
	}
	if len(e.Message) > maxErrorText {
		// Whatever a message quotes of a request, an answer never carries much of it.
		c := *e
		c.Message = strings.ToValidUTF8(c.Message[:maxErrorText], "") + "…"
		e = &c
	}
	b, _ := json.Marshal(e)
	if err := nc.PublishMsg(&nats.Msg{Subject: subject, Data: b, Header: nats.Header{
		micro.ErrorHeader:     []string{strings.ReplaceAll(e.Message, "\n", " ")},
		micro.ErrorCodeHeader: []string{e.Code},
	}}); err != nil {
		s.log.Warn("respond", logkey.Err, err)
	}
}

// refusal logs a refused request, a sample of each kind per principal.
func (s *Service) refusal(kind accounts.Kind, who string, err error) {
	if ok, suppressed := s.sampled.Allow(string(kind) + " " + who); ok {
		s.log.Warn("request refused", logkey.CallerKind, kind, logkey.Caller, who, logkey.Err, err, logkey.LogsSuppressed, suppressed)
	}
}
