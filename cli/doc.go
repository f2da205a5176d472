// Package cli is the map of tether, the command line of users and administrators. It
// speaks the wire contract (streams/wire) and imports nothing of the broker's
// (streams/deptest).
//
//	cmd/tether   main
//	clicmd       one file per verb (start_session.go, documents.go, play.go, …), run by Main
//	config       the client configuration and the authenticated NATS connection it opens
//	session      a session's client side: attach to its subjects, forward input, write
//	             output in order (repairing gaps from the transcript), return the exit status
//	output       tables and JSON
package cli
