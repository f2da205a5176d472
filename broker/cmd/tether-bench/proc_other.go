//go:build !linux

package main

import "syscall"

// daemonAttr puts a long-running subprocess in its own process group.
func daemonAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
