// Package sessiontest is a scriptable fake of the agent side of a session's data protocol,
// recording every output frame so it can also serve the transcript, for tests of clients.
package sessiontest
