// Package transcript is the one reader of a session's recorded frames: it pages through
// stored messages (a JetStream direct-get pager, or the ReadTranscript API), decodes them,
// skips and counts malformed frames, and hands out each direction's frames in their
// sequence order (a frame stored late waits for its place; duplicates are dropped).
package transcript
