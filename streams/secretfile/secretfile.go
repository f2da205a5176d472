package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Read returns the content of the secret file at path. what names the secret in errors
// ("agent key", "nkey seed"). A file whose mode grants group or others any permission is
// refused with an error that says how to fix it; a missing file gives an error that wraps
// fs.ErrNotExist.
//
// The mode is checked on the opened file, so a file swapped in between the check and the
// read cannot slip through.
func Read(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, readError(path, what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, readError(path, what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s is %s (mode %04o): run chmod 600 %s", what, path, exposure(perm), perm, shellQuote(path))
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, readError(path, what, err)
	}
	return b, nil
}

// readError names the secret and the path once: the *fs.PathError's own path and
// operation would repeat them.
func readError(path, what string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("read %s %s: %w", what, path, err)
}

func exposure(perm fs.FileMode) string {
	switch {
	case perm&0o044 != 0:
		return "readable by others"
	case perm&0o022 != 0:
		return "writable by others"
	default:
		return "open to others"
	}
}

// shellQuote quotes path for a POSIX shell when it needs it, so the hint can be pasted.
func shellQuote(path string) string {
	if path != "" && strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+:@%,=-") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
