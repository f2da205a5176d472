// Package subjects is the one place that names Tether's NATS subjects and derives every
// principal's subject permissions from them.
package subjects
