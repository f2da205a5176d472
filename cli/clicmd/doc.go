// Package clicmd implements the tether command line: one file per verb, run by Main.
package clicmd
