// Package session is the client side of a Tether session's data protocol: it attaches to a
// started session's subjects, forwards stdin, resizes and signals under the credit window,
// writes output in order (repairing gaps from the transcript) and returns the exit status.
package session
