package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Transcript stream event types; the CloudEvents type is TranscriptsTypePrefix + the type,
// its subject the stream's name.
const (
	// Capacity reports the stream's capacity: when its state changes (ok, warning, full)
	// and when a session is refused because the stream cannot take it.
	Capacity              = "capacity"
	TranscriptsTypePrefix = "dev.tether.transcripts."
)

// Transcripts is the data of a transcript stream event: its own schema, like Session.
type Transcripts struct {
	Stream      string  `json:"stream"`
	State       string  `json:"state"` // ok, warning, full
	Bytes       uint64  `json:"bytes"`
	MaxBytes    int64   `json:"max_bytes"`
	Messages    uint64  `json:"messages"`
	MaxMessages int64   `json:"max_messages"`
	Percent     float64 `json:"percent"`
	// ReserveBytes is the free space a new session needs to start.
	ReserveBytes int64 `json:"reserve_bytes"`
	// RefusedStarts counts the sessions the publishing broker refused since it started.
	RefusedStarts uint64 `json:"refused_starts"`
	// Refused is the start this event reports refusing, if it reports one.
	Refused *RefusedStart `json:"refused,omitempty"`
}

// RefusedStart is a session start refused because the transcript stream is full.
type RefusedStart struct {
	Target string `json:"target"`
	User   string `json:"user"`
}

// EmitTranscripts publishes one transcript stream event of type typ.
func (e *Emitter) EmitTranscripts(ctx context.Context, typ string, d Transcripts) error {
	ev := event.New()
	ev.SetID(nuid.Next())
	ev.SetSource(e.Source)
	ev.SetType(TranscriptsTypePrefix + typ)
	ev.SetSubject(d.Stream)
	ev.SetTime(e.now().UTC())
	if err := ev.SetData(event.ApplicationJSON, d); err != nil {
		return fmt.Errorf("encode %s event data: %w", typ, err)
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("invalid %s event: %w", typ, err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	if _, err := e.JS.Publish(ctx, subjects.TranscriptsEvent(typ), body, jetstream.WithMsgID(ev.ID())); err != nil {
		return fmt.Errorf("publish transcripts %s event: %w", typ, err)
	}
	return nil
}
