// Package session is the session state machine: which state changes are allowed and what
// an ending does to a session record. It is pure: no I/O, no clock.
package session
