package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Error codes the control plane answers with.
const (
	CodeBadRequest   = "BadRequest"
	CodeAccessDenied = "AccessDenied"
	CodeNotFound     = "NotFound"
	CodeConflict     = "Conflict"
	CodeUnavailable  = "Unavailable"
	CodeInternal     = "InternalError"
)

// Error is an error the control plane returned. Message is meant for the caller; Reasons
// are a policy denial's public reasons.
type Error struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Reasons []string `json:"reasons,omitempty"`
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if len(e.Reasons) > 0 {
		s += " (" + strings.Join(e.Reasons, "; ") + ")"
	}
	return s
}

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// ErrNoControlPlane is returned when no control plane answers on the subject.
var ErrNoControlPlane = errors.New("no control plane is answering: is tether-broker running?")

// Call sends req as JSON on subject and decodes the answer into resp, turning a
// control-plane error into *Error.
func Call(ctx context.Context, nc *nats.Conn, subject string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	msg, err := nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return ErrNoControlPlane
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("request %s: no answer in time: %w", subject, err)
		}
		return fmt.Errorf("request %s: %w", subject, err)
	}
	return DecodeReply(msg, resp)
}

// DecodeReply decodes a control-plane reply.
func DecodeReply(msg *nats.Msg, resp any) error {
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		e := &Error{}
		if json.Unmarshal(msg.Data, e) != nil || e.Code == "" {
			e = &Error{Code: code, Message: msg.Header.Get(micro.ErrorHeader)}
		}
		return e
	}
	if resp == nil {
		return nil
	}
	// A reply is bounded and must be one JSON value, but may carry fields this client
	// does not know: the control plane is authenticated, and a newer broker adds fields
	// to its answers without cutting off older agents and CLIs.
	if err := decode(msg.Data, resp, MaxReply, false); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	return nil
}
