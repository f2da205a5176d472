// Package peertest starts real peers on loopback for port-forwarding tests: an OpenSSH
// sshd, a Debian PostgreSQL, an HTTP server and TCP echo/sink/source servers, each
// stopped by t.Cleanup. A peer whose program is not installed fails the test, naming the
// Debian package to install (.ci/run installs them), unless TETHER_TEST_ALLOW_MISSING=1.
package peertest
