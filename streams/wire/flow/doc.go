// Package flow implements the credit windows of package frame's flow control: a sender's
// Window that blocks when too many bytes are unacknowledged, and a receiver's Acker that
// decides when to report consumption.
package flow
