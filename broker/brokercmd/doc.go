// Package brokercmd is the tether-broker command: flags, config loading, signals, and the
// all-in-one dev mode.
package brokercmd
