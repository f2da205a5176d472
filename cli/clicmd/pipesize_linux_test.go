package clicmd

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// ssh-proxy's pipes grow to pipeSize (or the most this machine allows); what is not a
// pipe is left alone.
func TestGrowPipes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	want := pipeSize
	if b, err := os.ReadFile("/proc/sys/fs/pipe-max-size"); err == nil {
		if max, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && max < want && os.Geteuid() != 0 {
			want = max
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "not-a-pipe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	growPipes(r, w, f, "not a file")
	for _, p := range []*os.File{r, w} {
		got, err := unix.FcntlInt(p.Fd(), unix.F_GETPIPE_SZ, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got < want {
			t.Errorf("pipe buffer %d bytes after growPipes, want %d", got, want)
		}
	}
}
