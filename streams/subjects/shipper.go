package subjects

// The names a shipper's subjects refer to. They are spelled here, at the bottom of the tree,
// rather than taken from streams/jsdef and streams/ship, which import this package; a test
// in streams/ship checks that they agree.
const (
	shipStreamTranscripts = "TETHER_TRANSCRIPTS"
	shipStreamEvents      = "TETHER_EVENTS"
	shipStreamAudit       = "TETHER_AUDIT"
	shipKVSessions        = "KV_tether_sessions"
	shipKVRecordings      = "KV_tether_recordings"
	shipDurableShipper    = "tether-shipper"
	shipDurableStreamer   = "tether-streamer"
)

// ShipperJetStream is every JetStream subject a shipper outside the broker may publish to,
// and all it needs:
//
//   - $JS.API.CONSUMER.MSG.NEXT.TETHER_EVENTS.D: fetch from the durable D the broker made
//     for it, tether-shipper (ended sessions to ship) or tether-streamer (started sessions
//     to stream);
//   - $JS.ACK.TETHER_EVENTS.D.>: acknowledge what D delivered (ack, nak, in progress,
//     term; a double ack waits for the server's answer on the inbox);
//   - $JS.API.CONSUMER.INFO.TETHER_EVENTS.D: read D's info, to bind it and for the
//     backlog metric;
//   - $JS.API.DIRECT.GET.S and $JS.API.DIRECT.GET.S.>: read the streams it ships from,
//     S being the transcripts, events and audit streams and the streams of the session
//     records and recordings buckets, by direct gets, a batch by sequence (and subject) or
//     one message, the last of a subject (a bucket's Get);
//   - $JS.API.STREAM.INFO.S: read their info (binding a bucket reads its stream's);
//   - $KV.tether_recordings.>: write the recordings bucket, with the stream's answer on
//     the inbox: index entries, status reports, streaming leases, archive checkpoints.
//
// None creates, changes or deletes a consumer (so no ordered consumer, and no watch or
// key listing of a bucket, which make one), a stream or a message, and none makes the
// server deliver anywhere but to the shipper's own inbox.
func ShipperJetStream() []string {
	var pub []string
	for _, d := range []string{shipDurableShipper, shipDurableStreamer} {
		pub = append(pub,
			"$JS.API.CONSUMER.MSG.NEXT."+shipStreamEvents+"."+d,
			"$JS.ACK."+shipStreamEvents+"."+d+".>",
			"$JS.API.CONSUMER.INFO."+shipStreamEvents+"."+d,
		)
	}
	for _, st := range []string{shipStreamTranscripts, shipStreamEvents, shipStreamAudit, shipKVSessions, shipKVRecordings} {
		pub = append(pub,
			"$JS.API.DIRECT.GET."+st,
			"$JS.API.DIRECT.GET."+st+".>",
			"$JS.API.STREAM.INFO."+st,
		)
	}
	return append(pub, "$KV.tether_recordings.>")
}
