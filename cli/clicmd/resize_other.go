//go:build !unix

package clicmd

import "os"

// notifyResize does nothing where there is no SIGWINCH.
func notifyResize(chan<- os.Signal) {}

func isResize(os.Signal) bool { return false }
