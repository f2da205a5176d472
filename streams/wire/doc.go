// Package wire is the contract between Tether's binaries: what flows between the broker,
// the agent, the CLI and the shippers over NATS. Nothing here knows how any binary works
// inside, and it imports only the standard library and nats.go (streams/deptest holds it
// to that), so the agent, the CLI, the policies and the workers all import downward.
//
//   - api: the control plane's requests and responses, their verbs and error codes, and
//     api.Call, the one way to make a request.
//   - subjects: every NATS subject, and the inbox prefixes of each kind of principal.
//   - frame: the binary codec of a session's frames (output, input, resize, exit, window).
//   - flow: the credit windows of frame's flow control.
//
// What each kind of principal may reach on those subjects is streams/accounts; the streams
// and buckets the broker keeps are streams/jsdef; the public event schema is
// streams/events.
package wire
