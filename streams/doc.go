// Package streams is the map of what every Tether binary shares: the wire contract, the
// account layout, the JetStream definitions, the events, and the shipping workers. Nothing
// under streams/ imports broker/, agent/ or cli/ (streams/deptest).
//
// The contract, streams/wire:
//
//	wire/api        requests, responses, verbs and error codes of the control plane; api.Call;
//	                api.Decode, the strict decoder of every untrusted body; api.Duration
//	wire/subjects   every NATS subject, and each principal's inbox prefix
//	wire/frame      the session frame codec (16-byte header + payload)
//	wire/flow       credit windows for frame's flow control
//
// What the broker keeps and who reaches it:
//
//	accounts        the NATS account of each kind of principal, its imports and permissions
//	jsdef           the streams (transcripts, events, audit) and KV buckets, created in one call
//	events          session lifecycle events (CloudEvents) as published to the events stream,
//	                with their own events.Session: the public schema
//	transcript      the one reader of a session's recorded frames: decode, skip malformed,
//	                order by sequence, page by bytes (shipper, streamer, ReadTranscript,
//	                the CLI's gap repair and play)
//
// One mechanism each, for every binary:
//
//	retry           the one backoff: jittered, exponential, every wait cancellable
//	logkey          the one vocabulary of log keys (a test refuses literal keys)
//	version         the one version string, set by the Makefile
//	gctune          the one GC target; cpuprofile, a CPU profile on $TETHER_CPUPROFILE
//
// Recordings, streams/ship:
//
//	ship            the shipper: an ended session's transcript → .cast, .log, .json in storage;
//	                the streamer (the same, in parts, while the session runs); the archiver
//	ship/shipd      assembles the three over one JetStream (in the broker, or `tether-broker ship`)
//	ship/cast       renders frames to asciicast v2 and plain text, and reads casts back
//	ship/seal       age encryption of recordings before they leave
//	ship/store      the backends: a directory, an S3-compatible bucket
//
// A byte of output, end to end: agent/shell starts the process on a PTY; agent/channel
// reads the PTY (out.go), frames the bytes (wire/frame) and publishes them on the
// session's out subject (wire/subjects). No broker code runs on the next hop, only NATS
// configuration: the mapping the broker adds to the agent's gate account when the session
// starts (accounts.SessionMappings, applied by broker/natsembed) leads the frame into the
// transcript stream (jsdef), which stores it and republishes it on tether.live
// (accounts.LiveRepublish*), imported by the session's owner; cli/session receives it, in
// order, within its credit window (wire/flow). When the session ends, the broker publishes
// session.terminated (events); the shipper's consumer delivers that event, and the shipper
// reads the transcript (transcript) and uploads the recording (ship, ship/cast, ship/store).
//
// Test helpers: polltest (waiting with a deadline), testcerts, deptest (the import rules),
// ship/miniotest (a real MinIO), ship/cast/casttest (asciinema); secretfile reads seed files.
package streams
