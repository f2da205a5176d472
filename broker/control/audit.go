package control

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// auditQueue bounds the audit records whose stream acknowledgement is outstanding;
// beyond it, deciding waits (backpressure) rather than dropping a record.
const auditQueue = 1024

// revisioner is implemented by authorizers that know which policy bundle they evaluate.
type revisioner interface{ Revision() string }

func (s *Service) policyRevision() string {
	if r, ok := s.cfg.Authorizer.(revisioner); ok {
		return r.Revision()
	}
	return ""
}

// audit records one decision in the audit stream. The publish is asynchronous; its
// acknowledgement is checked by auditAcks, which logs a record the stream refused.
func (s *Service) audit(c caller, in policies.Input, d policies.Decision, derr error, took time.Duration, shown, hidden *int) {
	input, err := json.Marshal(in)
	if err != nil {
		s.log.Error("encode audit input", logkey.Verb, in.Action, logkey.Err, err)
		input = []byte("null")
	}
	rec := api.AuditRecord{
		Time: in.Time, Server: s.cfg.ServerName, Principal: c.name, Action: in.Action, Input: input,
		Allow: d.Allow && derr == nil, Reasons: d.Reasons, Obligations: d.Obligations,
		Revision: s.policyRevision(), LatencyUS: took.Microseconds(), Shown: shown, Hidden: hidden,
	}
	if derr != nil {
		rec.Error = derr.Error()
	}
	body, err := json.Marshal(rec)
	if err != nil {
		s.log.Error("encode audit record", logkey.Verb, in.Action, logkey.Err, err)
		return
	}
	fut, err := s.js.PublishAsync(subjects.Audit(in.Action), body)
	if err != nil {
		s.log.Error("audit record not published", logkey.Verb, in.Action, logkey.User, c.name, logkey.Err, err)
		return
	}
	select {
	case s.auditAcks <- fut:
	case <-s.ctx.Done():
	}
}

// checkAudit logs every audit record the stream did not store.
func (s *Service) checkAudit() {
	for {
		select {
		case fut := <-s.auditAcks:
			select {
			case <-fut.Ok():
			case err := <-fut.Err():
				s.log.Error("audit stream refused a record", logkey.Subject, fut.Msg().Subject, logkey.Err, err)
			case <-s.ctx.Done():
				return
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// flushAudit waits, briefly, for outstanding audit records at shutdown.
func (s *Service) flushAudit(ctx context.Context) {
	select {
	case <-s.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
}
