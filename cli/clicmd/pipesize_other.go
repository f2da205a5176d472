//go:build !linux

package clicmd

// growPipes does nothing where pipes cannot be resized.
func growPipes(...any) {}
