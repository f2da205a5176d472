//go:build unix

package clicmd

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize relays terminal size changes (SIGWINCH) to c.
func notifyResize(c chan<- os.Signal) { signal.Notify(c, syscall.SIGWINCH) }

func isResize(s os.Signal) bool { return s == syscall.SIGWINCH }
