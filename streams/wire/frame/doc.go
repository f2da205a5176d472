// Package frame is the versioned binary codec for the frames a session's agent and client
// exchange over NATS.
//
// # Wire format
//
// Every frame is a 16-byte header followed by its payload:
//
//	0     version (1)
//	1     type
//	2     flags
//	3     reserved, must be 0
//	4:12  sequence number, big endian; per direction, starting at 1, no gaps
//	12:16 payload length, big endian, at most MaxPayload
//
// One NATS message carries exactly one frame. The agent batches PTY reads into frames of up
// to ChunkSize bytes.
//
// # Flow control
//
// Each direction of data (stdout+stderr towards the client, stdin towards the agent) has a
// credit window of bytes (DefaultWindow). The receiver reports, in a Window frame, the total
// number of payload bytes of data frames it has consumed since the session began; the sender
// never has more than the window outstanding (sent but not reported consumed). Reports are
// cumulative, so a lost report is repaired by the next one. The client sends its Window
// frames on the session's "in" subject; the agent sends its own on "ctl", a subject the
// transcript stream does not capture.
//
// # Sequence numbers
//
// Frames on "out" are numbered 1, 2, 3 … A client that sees a gap (a core subscription
// dropped a message) fetches the missing frames from the transcript stream.
package frame
