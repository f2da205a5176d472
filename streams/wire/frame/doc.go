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
// A client that resumes a session counts from zero, where the agent's window holds the lost
// client's count: its first Window frame carries FlagRebase, and the agent counts what was
// outstanding as consumed and the new client's reports from there. That grants at most one
// window the client did not earn, which a client could take anyway by reporting everything.
//
// A client whose own output broke (`tether … | head`) sends a Signal frame "PIPE"
// (SignalPipe): the agent closes the process's outputs, so it meets a broken pipe as under
// ssh, and nothing more is recorded for nobody.
//
// # Sequence numbers
//
// Frames on "out" are numbered 1, 2, 3 … A client that sees a gap (a core subscription
// dropped a message) fetches the missing frames from the transcript stream.
//
// # The end
//
// The broker decides every end of a session (an exit the agent reports, terminate, idle
// and duration limits, agent lost or restarted, policy, a failed record, its own shutdown)
// and says so in an End frame on "out": unnumbered (Seq 0), an ExitStatus payload (the exit
// code, -1 when there is none, and "reason" or "reason: detail"). It is stored in the
// transcript stream after every frame of the record, and so reaches the client live after
// them; readers of the record skip it. A client that gets it shows what the record holds
// that it missed, then ends with the status. An agent that owns the session's subjects can
// forge one for its own session only, with the power it already has to send Exit.
package frame
