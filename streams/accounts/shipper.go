package accounts

// JetStreamSubject is a subject of the service account's JetStream a principal may use
// through an import.
type JetStreamSubject struct {
	// Local is the subject in the principal's account, Remote the one in the service
	// account. JetStream API subjects are imported under ShipperAPIPrefix (a principal's
	// own "$JS.API.>" is the server's, which answers that its account has no JetStream).
	Local, Remote string
	// Streamed: one request, several answers (a pull, a batched direct get).
	Streamed bool
}

// ShipperAPIPrefix is where a shipper finds the service account's JetStream API
// (jetstream.NewWithAPIPrefix).
const ShipperAPIPrefix = "tether.jsapi"

func jsAPI(rest string, streamed bool) JetStreamSubject {
	return JetStreamSubject{Local: ShipperAPIPrefix + "." + rest, Remote: "$JS.API." + rest, Streamed: streamed}
}

func same(subject string) JetStreamSubject {
	return JetStreamSubject{Local: subject, Remote: subject}
}

// Names the shipper's imports refer to. They are spelled here rather than taken from
// streams/jsdef and streams/ship so that this package stays at the bottom of the tree;
// a test checks they agree.
const (
	streamTranscripts = "TETHER_TRANSCRIPTS"
	streamEvents      = "TETHER_EVENTS"
	streamAudit       = "TETHER_AUDIT"
	kvSessions        = "KV_tether_sessions"
	kvRecordings      = "KV_tether_recordings"
	// ShipperDurables are the durable consumers the broker creates for shippers.
	durableShipper  = "tether-shipper"
	durableStreamer = "tether-streamer"
)

// ShipperDurables are the durable consumers on the events stream the broker creates for
// shippers; they may only fetch from them and acknowledge.
var ShipperDurables = []string{durableShipper, durableStreamer}

// ShipperJetStream is all a shipper outside the broker may ask of JetStream (the API
// under ShipperAPIPrefix):
//
//   - CONSUMER.MSG.NEXT.TETHER_EVENTS.D: fetch from the durable D the broker made for it,
//     tether-shipper (ended sessions to ship) or tether-streamer (started sessions to
//     stream);
//   - $JS.ACK.TETHER_EVENTS.D.>: acknowledge what D delivered (ack, nak, in progress,
//     term; a double ack waits for the server's answer on the inbox);
//   - CONSUMER.INFO.TETHER_EVENTS.D: read D's info, to bind it and for the backlog metric;
//   - DIRECT.GET.S and DIRECT.GET.S.>: read the streams it ships from, S being the
//     transcripts, events and audit streams and the streams of the session records and
//     recordings buckets, by direct gets, a batch by sequence (and subject) or one
//     message, the last of a subject (a bucket's Get);
//   - STREAM.INFO.S: read their info (binding a bucket reads its stream's);
//   - $KV.tether_recordings.>: write the recordings bucket, with the stream's answer on
//     the inbox: index entries, status reports, streaming leases, archive checkpoints.
//
// None creates, changes or deletes a consumer (so no ordered consumer, and no watch or
// key listing of a bucket, which make one), a stream or a message, and none makes the
// server deliver anywhere but to the shipper's own account.
func ShipperJetStream() []JetStreamSubject {
	var out []JetStreamSubject
	for _, d := range ShipperDurables {
		out = append(out,
			jsAPI("CONSUMER.MSG.NEXT."+streamEvents+"."+d, true),
			same("$JS.ACK."+streamEvents+"."+d+".>"),
			jsAPI("CONSUMER.INFO."+streamEvents+"."+d, false),
		)
	}
	for _, st := range []string{streamTranscripts, streamEvents, streamAudit, kvSessions, kvRecordings} {
		out = append(out,
			jsAPI("DIRECT.GET."+st, true),
			jsAPI("DIRECT.GET."+st+".>", false),
			jsAPI("STREAM.INFO."+st, false),
		)
	}
	// A JetStream context with an API prefix puts to a bucket under the prefix too.
	return append(out, JetStreamSubject{Local: ShipperAPIPrefix + ".$KV.tether_recordings.>", Remote: "$KV.tether_recordings.>"})
}
