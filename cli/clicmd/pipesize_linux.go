package clicmd

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the buffer ssh-proxy asks of the pipes ssh gives it (Linux's default is
// 64 KiB; an unprivileged process may ask up to /proc/sys/fs/pipe-max-size, 1 MiB by
// default).
const pipeSize = 1 << 20

// growPipes enlarges the buffers of those of files that are pipes, so that each read
// takes and each frame carries more than 64 KiB; a refusal leaves them as they were.
func growPipes(files ...any) {
	for _, f := range files {
		if f, ok := f.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
				_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
			}
		}
	}
}
