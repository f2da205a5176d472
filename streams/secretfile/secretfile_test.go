package secretfile_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/secretfile"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		mode    fs.FileMode
		wantErr string // "" when the read succeeds
	}{
		{"owner-rw", 0o600, ""},
		{"owner-r", 0o400, ""},
		{"group-r", 0o640, "%s is readable by others (mode 0640): run chmod 600 %s"},
		{"other-r", 0o604, "%s is readable by others (mode 0604): run chmod 600 %s"},
		{"world-r", 0o644, "%s is readable by others (mode 0644): run chmod 600 %s"},
		{"group-w", 0o620, "%s is writable by others (mode 0620): run chmod 600 %s"},
		{"other-x", 0o601, "%s is open to others (mode 0601): run chmod 600 %s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".nk")
			if err := os.WriteFile(path, []byte("SUSECRET\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // WriteFile's mode passes through the umask
				t.Fatal(err)
			}
			got, err := secretfile.Read(path, "test key")
			if tc.wantErr == "" {
				if err != nil || string(got) != "SUSECRET\n" {
					t.Fatalf("Read = %q, %v; want the content", got, err)
				}
				return
			}
			want := "test key " + fmt.Sprintf(tc.wantErr, path, path)
			if err == nil || err.Error() != want {
				t.Fatalf("Read = %q, %v\nwant error %s", got, err, want)
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.nk")
	_, err := secretfile.Read(path, "test key")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if got, want := err.Error(), "read test key "+path+": no such file or directory"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestReadQuotesHint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "it's mine.nk")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := secretfile.Read(path, "test key")
	want := `run chmod 600 '` + filepath.Dir(path) + `/it'\''s mine.nk'`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("Read = %v, want a hint ending %s", err, want)
	}
}
