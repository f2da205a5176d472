package jsdef

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Names of the streams and buckets.
const (
	StreamTranscripts = "TETHER_TRANSCRIPTS"
	StreamEvents      = "TETHER_EVENTS"
	StreamAudit       = "TETHER_AUDIT"
	BucketDocuments   = "tether_documents"
	BucketPolicy      = "tether_policy"
	BucketRecordings  = "tether_recordings"
	BucketSessions    = "tether_sessions"
	BucketInstances   = "tether_instances"
	BucketUsers       = "tether_users"
	BucketActivations = "tether_activations"
)

// Limits bound what the streams keep. Zero values take the defaults.
type Limits struct {
	Replicas           int
	TranscriptMaxAge   time.Duration // default 30 days
	TranscriptMaxBytes int64         // default 10 GiB
	EventsMaxAge       time.Duration // default 90 days
	EventsMaxBytes     int64         // default 1 GiB
	AuditMaxAge        time.Duration // default 365 days
	AuditMaxBytes      int64         // default 1 GiB
	// AgentTranscriptBytes is how much of the transcript stream one instance may hold
	// (default an eighth of TranscriptMaxBytes): one node cannot fill it for everyone.
	AgentTranscriptBytes int64
	// TranscriptReserve is the free space the transcript stream must have for a new
	// session to start (default max(64 MiB, 2% of TranscriptMaxBytes), at most a quarter
	// of it): a session that starts can record its first output.
	TranscriptReserve int64
	// ShippedGrace is how long a session's frames stay in the transcript stream once its
	// recording is shipped (default 1 hour; a longer retention of the session wins): the
	// stream keeps what storage has not.
	ShippedGrace time.Duration
	// ResetTranscripts lets Ensure delete and recreate a transcript stream made by an
	// earlier Tether, which let agents set their frames' TTL (see ErrTranscriptTTL).
	ResetTranscripts bool
}

// ErrTranscriptTTL says the transcript stream lets publishers choose how long their
// messages are kept (per-message TTLs, which an earlier Tether used): an agent could then
// erase its own output. A stream cannot be changed back, only deleted and made again.
var ErrTranscriptTTL = errors.New("the transcript stream " + StreamTranscripts + " was made by an earlier Tether and lets agents choose how long their frames are kept; " +
	"ship what it holds, then start the broker once with --reset-transcripts to delete and recreate it (its frames are lost)")

// Resolved is l with every zero value replaced by its default.
func (l Limits) Resolved() Limits {
	if l.Replicas == 0 {
		l.Replicas = 1
	}
	if l.TranscriptMaxAge == 0 {
		l.TranscriptMaxAge = 30 * 24 * time.Hour
	}
	if l.TranscriptMaxBytes == 0 {
		l.TranscriptMaxBytes = 10 << 30
	}
	if l.EventsMaxAge == 0 {
		l.EventsMaxAge = 90 * 24 * time.Hour
	}
	if l.EventsMaxBytes == 0 {
		l.EventsMaxBytes = 1 << 30
	}
	if l.AuditMaxAge == 0 {
		l.AuditMaxAge = 365 * 24 * time.Hour
	}
	if l.AuditMaxBytes == 0 {
		l.AuditMaxBytes = 1 << 30
	}
	if l.AgentTranscriptBytes == 0 {
		l.AgentTranscriptBytes = l.TranscriptMaxBytes / 8
	}
	if l.TranscriptReserve == 0 {
		l.TranscriptReserve = min(max(64<<20, l.TranscriptMaxBytes/50), l.TranscriptMaxBytes/4)
	}
	if l.ShippedGrace == 0 {
		l.ShippedGrace = time.Hour
	}
	return l
}

// Buckets are the KV buckets the control plane uses.
type Buckets struct {
	Sessions, Instances, Users, Activations jetstream.KeyValue
	// Documents holds session documents, one key per name, each version a revision.
	Documents jetstream.KeyValue
	// Policy holds the pushed policy bundle (key "bundle") and each broker's report of
	// the bundle it evaluates (key "status.<server>").
	Policy jetstream.KeyValue
	// Recordings indexes shipped recordings (key "rec.<session id>", the recording's
	// metadata) and holds each shipper's report (key "shipper.<name>").
	Recordings jetstream.KeyValue
	// TranscriptsReset says Ensure deleted and made again a transcript stream that let
	// agents set their frames' TTL (Limits.ResetTranscripts).
	TranscriptsReset bool
}

// DocumentHistory is how many versions of a document the documents bucket keeps.
const DocumentHistory = 64

// EventsDuplicateWindow is how long the events stream remembers an event id: a repeated
// terminal event within it is stored once.
const EventsDuplicateWindow = 15 * time.Minute

// Manager is the part of jetstream.JetStream that Ensure needs.
type Manager interface {
	jetstream.StreamManager
	jetstream.KeyValueManager
}

// Ensure creates or updates every stream and bucket.
func Ensure(ctx context.Context, js Manager, l Limits) (*Buckets, error) {
	l = l.Resolved()
	streams := []jetstream.StreamConfig{{
		Name:        StreamTranscripts,
		Description: "session output frames and recorded input, one subject each per session",
		Subjects:    []string{subjects.Transcripts, subjects.RecordedInput},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		// Never drop what a session printed to make room: refuse new frames instead, so
		// the agent sees the failure and ends the session as recording_failed.
		Discard:    jetstream.DiscardNew,
		MaxAge:     l.TranscriptMaxAge,
		MaxBytes:   l.TranscriptMaxBytes,
		Duplicates: 2 * time.Minute,
		Replicas:   l.Replicas,
		// No per-message TTLs: how long a session's frames are kept is the broker's
		// decision (MaxAge, and the session's retention, which the control plane
		// enforces), never the publishing agent's. A frame that asks is refused.
		AllowMsgTTL: false,
		// A frame is at most a 1 MiB payload and its header.
		MaxMsgSize: 1<<20 + 1024,
		// Clients see a session's output as the stream republishes what it stored:
		// nothing reaches them that is not in the record.
		RePublish: &jetstream.RePublish{Source: accounts.LiveRepublishSource, Destination: accounts.LiveRepublishDestination},
		// Shippers read a session's frames by direct gets: they may not make consumers.
		AllowDirect: true,
	}, {
		Name:        StreamEvents,
		Description: "session lifecycle events (CloudEvents JSON)",
		Subjects:    []string{subjects.EventsAll},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      l.EventsMaxAge,
		MaxBytes:    l.EventsMaxBytes,
		// A session's terminal event has an id derived from the session: the window
		// covers an agent that keeps reporting an end through a long broker outage.
		Duplicates:  min(EventsDuplicateWindow, l.EventsMaxAge),
		Replicas:    l.Replicas,
		AllowDirect: true, // the shippers' archiver reads it by direct gets
	}, {
		Name:        StreamAudit,
		Description: "every authorization decision: input, result, bundle revision, latency",
		Subjects:    []string{subjects.AuditAll},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      l.AuditMaxAge,
		MaxBytes:    l.AuditMaxBytes,
		Replicas:    l.Replicas,
		AllowDirect: true, // the shippers' archiver reads it by direct gets
	}}
	reset, err := checkTranscriptTTL(ctx, js, l.ResetTranscripts)
	if err != nil {
		return nil, err
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	kv := func(name, desc string, history uint8) (jetstream.KeyValue, error) {
		b, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: history,
			Storage: jetstream.FileStorage, Replicas: l.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("ensure bucket %s: %w", name, err)
		}
		return b, nil
	}
	b := Buckets{TranscriptsReset: reset}
	if b.Sessions, err = kv(BucketSessions, "session records and states", 5); err != nil {
		return nil, err
	}
	if b.Instances, err = kv(BucketInstances, "managed instances: inventory and heartbeats", 1); err != nil {
		return nil, err
	}
	if b.Users, err = kv(BucketUsers, "users: nkey, groups, attributes", 1); err != nil {
		return nil, err
	}
	if b.Activations, err = kv(BucketActivations, "agent activations", 1); err != nil {
		return nil, err
	}
	if b.Documents, err = kv(BucketDocuments, "session documents, every version", DocumentHistory); err != nil {
		return nil, err
	}
	if b.Policy, err = kv(BucketPolicy, "the pushed policy bundle and each broker's report", 8); err != nil {
		return nil, err
	}
	if b.Recordings, err = kv(BucketRecordings, "shipped recordings and the shippers' reports", 1); err != nil {
		return nil, err
	}
	return &b, nil
}

// checkTranscriptTTL refuses (or, with reset, deletes) a transcript stream that allows
// per-message TTLs.
func checkTranscriptTTL(ctx context.Context, js Manager, reset bool) (bool, error) {
	st, err := js.Stream(ctx, StreamTranscripts)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check stream %s: %w", StreamTranscripts, err)
	}
	if !st.CachedInfo().Config.AllowMsgTTL {
		return false, nil
	}
	if !reset {
		return false, ErrTranscriptTTL
	}
	if err := js.DeleteStream(ctx, StreamTranscripts); err != nil {
		return false, fmt.Errorf("reset stream %s: %w", StreamTranscripts, err)
	}
	return true, nil
}

// BindShipping binds the buckets a shipper uses, without creating anything: for a shipper
// outside the broker, whose permissions stop it from creating streams.
func BindShipping(ctx context.Context, js jetstream.KeyValueManager) (*Buckets, error) {
	var b Buckets
	var err error
	if b.Sessions, err = js.KeyValue(ctx, BucketSessions); err != nil {
		return nil, fmt.Errorf("bind bucket %s: %w", BucketSessions, err)
	}
	if b.Recordings, err = js.KeyValue(ctx, BucketRecordings); err != nil {
		return nil, fmt.Errorf("bind bucket %s: %w", BucketRecordings, err)
	}
	return &b, nil
}

// DeleteOrdered deletes the server-side consumer behind an ordered consumer once a reader
// is done with it, rather than leaving it for the server to drop after its inactivity
// threshold (5 minutes): readers that poll would otherwise pile consumers up.
func DeleteOrdered(js jetstream.StreamConsumerManager, stream string, c jetstream.Consumer) {
	info := c.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = js.DeleteConsumer(ctx, stream, info.Name)
}
