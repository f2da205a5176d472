package clicmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/tetherhq/tether/streams/wire/frame"
)

// terminal is the local terminal of an interactive session.
type terminal struct{ fd int }

func openTerminal(stdin io.Reader) (*terminal, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("an interactive session needs a terminal on stdin; to run a command without one, give the command after --")
	}
	return &terminal{fd: int(f.Fd())}, nil
}

// size returns the terminal's size, 80x24 if it cannot be read.
func (t *terminal) size() frame.Size {
	w, h, err := term.GetSize(t.fd)
	if err != nil || w <= 0 || h <= 0 || w > 0xffff || h > 0xffff {
		return frame.Size{Cols: 80, Rows: 24}
	}
	return frame.Size{Cols: uint16(w), Rows: uint16(h)}
}

// makeRaw puts the terminal in raw mode and returns the idempotent function restoring it.
func (t *terminal) makeRaw() (restore func(), err error) {
	state, err := term.MakeRaw(t.fd)
	if err != nil {
		return nil, fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = term.Restore(t.fd, state) }) }, nil
}
