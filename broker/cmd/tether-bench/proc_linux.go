package main

import "syscall"

// daemonAttr puts a long-running subprocess in its own process group and has the kernel
// send it SIGTERM if the harness dies without cleaning up.
func daemonAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
