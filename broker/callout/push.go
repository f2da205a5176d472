package callout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// claimsUpdateSubject is where a nats resolver (resolver: { type: full }) takes account
// JWTs from a system account user, as `nsc push` sends them.
const claimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE"

// pushTimeout bounds a push whose context has no deadline.
const pushTimeout = 5 * time.Second

// SystemPusher pushes account JWTs over Conn, a connection of a system account user. The
// server that answers has stored the JWT and applied it to the account if it had it
// loaded; the other servers of a cluster learn it from their resolvers' sync, so one
// answer is taken as success.
type SystemPusher struct {
	Conn *nats.Conn
}

var _ Pusher = SystemPusher{}

// Push implements Pusher.
func (p SystemPusher) Push(ctx context.Context, accountJWT string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pushTimeout)
		defer cancel()
	}
	msg, err := p.Conn.RequestWithContext(ctx, claimsUpdateSubject, []byte(accountJWT))
	if err != nil {
		return fmt.Errorf("push account jwt: %w", err)
	}
	var resp server.ServerAPIClaimUpdateResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("push account jwt: unreadable answer: %w", err)
	}
	switch {
	case resp.Error != nil:
		return fmt.Errorf("push account jwt %s: %s (code %d)", resp.Error.Account, resp.Error.Description, resp.Error.Code)
	case resp.Data == nil:
		return errors.New("push account jwt: answer without status")
	}
	return nil
}
