package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Session event types; the CloudEvents type is TypePrefix + the type.
const (
	Started    = "started"
	Denied     = "denied"
	Failed     = "failed"
	Terminated = "terminated"
	// Forward is one forwarded connection of a port forwarding session, reported when
	// it ended (Data.Forward).
	Forward    = "forward"
	TypePrefix = "dev.tether.session."
)

// Data is the data of a session event.
type Data struct {
	Session Session `json:"session"`
	// Actor is who caused the event (the requester of a start, denial or termination).
	Actor   string   `json:"actor,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Forward is the connection of a Forward event.
	Forward *ForwardConn `json:"forward,omitempty"`
}

// Emitter publishes events and waits for the stream to store them.
type Emitter struct {
	JS     jetstream.Publisher
	Source string // e.g. "tether-broker/<server name>"
	Now    func() time.Time
}

// Emit publishes one event of type typ about d.Session.
func (e *Emitter) Emit(ctx context.Context, typ string, d Data) error {
	ev, err := e.build(typ, d)
	if err != nil {
		return err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	if _, err := e.JS.Publish(ctx, subjects.SessionEvent(typ), body, jetstream.WithMsgID(ev.ID())); err != nil {
		return fmt.Errorf("publish %s event for %s: %w", typ, d.Session.ID, err)
	}
	return nil
}

// eventID is an event's id, which the events stream also deduplicates by. A session ends
// once: its terminal event's id is derived from the session, so that a retried end (an
// agent's SessionEnded report repeated after a lost reply, a finish whose record update
// failed) is stored once, within the stream's duplicate window, whichever broker
// publishes it. A forwarded connection ends once too: its event's id is derived from the
// session and the connection. Other events get an id of their own.
func eventID(typ string, d Data) string {
	session := d.Session.ID
	switch {
	case (typ == Terminated || typ == Failed) && session != "":
		return "end." + session
	case typ == Forward && session != "" && d.Forward != nil:
		return ForwardID(session, d.Forward.ConnID)
	}
	return nuid.Next()
}

// ForwardID is the id of the Forward event of a session's connection, and of its audit
// record: both are stored once however often the agent reports the connection.
func ForwardID(session string, conn uint32) string {
	return fmt.Sprintf("fwd.%s.%d", session, conn)
}

func (e *Emitter) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Emitter) build(typ string, d Data) (event.Event, error) {
	ev := event.New()
	ev.SetID(eventID(typ, d))
	ev.SetSource(e.Source)
	ev.SetType(TypePrefix + typ)
	ev.SetSubject(d.Session.ID)
	ev.SetTime(e.now().UTC())
	if err := ev.SetData(event.ApplicationJSON, d); err != nil {
		return ev, fmt.Errorf("encode %s event data: %w", typ, err)
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("invalid %s event: %w", typ, err)
	}
	return ev, nil
}
