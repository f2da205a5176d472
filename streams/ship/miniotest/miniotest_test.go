package miniotest_test

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tetherhq/tether/streams/ship/miniotest"
)

func TestRestartKeepsData(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []miniotest.Option
	}{
		{"http", nil},
		{"tls", []miniotest.Option{miniotest.WithTLS()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := miniotest.Start(t, tc.opts...)
			if got, want := s.CAFile != "", s.TLS(); got != want {
				t.Fatalf("CAFile set = %v, want %v", got, want)
			}
			if !strings.HasPrefix(s.Endpoint(), "127.0.0.1:") {
				t.Fatalf("Endpoint() = %q, want 127.0.0.1:PORT", s.Endpoint())
			}
			s.MakeBucket("bkt")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			want := []byte("hello")
			if _, err := s.Client().PutObject(ctx, "bkt", "k", bytes.NewReader(want), int64(len(want)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			addr := s.Endpoint()
			s.Stop()
			s.Stop() // idempotent
			s.Restart()
			if s.Endpoint() != addr {
				t.Fatalf("Endpoint() after Restart = %q, want %q", s.Endpoint(), addr)
			}
			o, err := s.Client().GetObject(ctx, "bkt", "k", minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			got, err := io.ReadAll(o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("after restart got %q, want %q", got, want)
			}
		})
	}
}

func TestBinaryMissing(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	t.Setenv("PATH", filepath.Dir(gobin))
	t.Setenv("GOBIN", "")
	t.Setenv("GOPATH", t.TempDir())
	_, err = miniotest.Binary()
	if err == nil || !strings.Contains(err.Error(), "minio not installed: run .ci/run's install step (go install github.com/minio/minio@") {
		t.Fatalf("Binary() error = %v, want the install hint", err)
	}
}
