//go:build !unix

package clicmd

import (
	"net"
	"os"
)

// listenPrivate listens on a unix socket at path and limits it to this user as far as
// the system's file modes do.
func listenPrivate(path string) (net.Listener, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
