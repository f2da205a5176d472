//go:build unix

package clicmd

import (
	"net"
	"syscall"
)

// listenPrivate listens on a unix socket at path created with mode 0600: the umask is
// tightened around bind, so no other user can connect before a chmod would run. (The
// umask is the process's; nothing else creates files while a forward starts.)
func listenPrivate(path string) (net.Listener, error) {
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
