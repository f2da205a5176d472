package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/miniotest"
	"github.com/tetherhq/tether/streams/ship/store"
)

// s3Config is the configuration for bucket on srv, as root.
func s3Config(srv *miniotest.Server, bucket string) store.S3Config {
	return store.S3Config{
		Endpoint: srv.Endpoint(), Bucket: bucket, PathStyle: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		UseTLS: srv.TLS(), CAFile: srv.CAFile,
	}
}

func newS3(t *testing.T, cfg store.S3Config) *store.S3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := store.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// randomBytes are n reproducible bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

func stat(t *testing.T, srv *miniotest.Server, bucket, key string, opts minio.StatObjectOptions) (minio.ObjectInfo, error) {
	t.Helper()
	return srv.Client().StatObject(ctxT(t), bucket, key, opts)
}

// TestS3 runs against one plain-HTTP MinIO, a bucket per subtest; the outage test stops
// the server, so it comes last.
func TestS3(t *testing.T) {
	srv := miniotest.Start(t)

	t.Run("round trip", func(t *testing.T) {
		srv.MakeBucket("roundtrip")
		cfg := s3Config(srv, "roundtrip")
		cfg.Prefix = "/tether/rec/"
		s := newS3(t, cfg)
		if got, want := s.Describe(), "s3://"+srv.Endpoint()+"/roundtrip/tether/rec"; got != want {
			t.Errorf("Describe() = %q, want %q", got, want)
		}
		testRoundTrip(t, s)
		info, err := stat(t, srv, "roundtrip", "tether/rec/sess-2.log", minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("object not under the prefix: %v", err)
		}
		if info.ContentType != "text/plain" {
			t.Errorf("content type = %q, want text/plain", info.ContentType)
		}
		// Objects outside the prefix are not listed.
		if _, err := srv.Client().PutObject(ctxT(t), "roundtrip", "other/x", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := listAll(t, s, "other"); len(got) != 0 {
			t.Errorf("List(other) = %v, want nothing", got)
		}
		s2 := newS3(t, s3Config(srv, "roundtrip"))
		if got, want := s2.Describe(), "s3://"+srv.Endpoint()+"/roundtrip"; got != want {
			t.Errorf("Describe() without prefix = %q, want %q", got, want)
		}
		for _, key := range badKeys {
			if err := s.Put(ctxT(t), key, strings.NewReader("x"), 1, ship.PutOptions{}); err == nil {
				t.Errorf("Put(%q) succeeded", key)
			}
		}
	})

	t.Run("multipart", func(t *testing.T) {
		srv.MakeBucket("multipart")
		cfg := s3Config(srv, "multipart")
		cfg.PartSize = 5 << 20
		s := newS3(t, cfg)
		data := randomBytes(40 << 20)
		// A plain io.Reader: the upload streams part by part.
		if err := s.Put(ctxT(t), "big.cast", struct{ io.Reader }{bytes.NewReader(data)}, int64(len(data)), ship.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		info, err := stat(t, srv, "multipart", "big.cast", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(info.ETag, "-8") {
			t.Errorf("ETag %q, want a multipart ETag of 8 parts (-8)", info.ETag)
		}
		if got, want := sha256.Sum256([]byte(get(t, s, "big.cast"))), sha256.Sum256(data); got != want {
			t.Error("object read back differs")
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		srv.MakeBucket("interrupted")
		cfg := s3Config(srv, "interrupted")
		cfg.PartSize = 5 << 20
		s := newS3(t, cfg)
		if err := s.Put(ctxT(t), "old.cast", strings.NewReader("old"), 3, ship.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		data := randomBytes(20 << 20)
		for _, key := range []string{"new.cast", "old.cast"} {
			ctx, cancel := context.WithCancel(ctxT(t))
			// Cancelled once two parts are read: the upload has begun.
			r := &cancelAfter{r: bytes.NewReader(data), n: 11 << 20, cancel: cancel}
			err := s.Put(ctx, key, r, int64(len(data)), ship.PutOptions{})
			cancel()
			if err == nil {
				t.Fatalf("Put(%s) succeeded though cancelled", key)
			}
			t.Logf("interrupted Put(%s): %v", key, err)
		}
		if _, err := s.Get(ctxT(t), "new.cast"); !errors.Is(err, ship.ErrNotFound) {
			t.Errorf("Get(new.cast) after interrupted Put: error %v, want ErrNotFound", err)
		}
		if got := get(t, s, "old.cast"); got != "old" {
			t.Errorf("Get(old.cast) after interrupted Put = %q, want the old object", got)
		}
		for u := range srv.Client().ListIncompleteUploads(ctxT(t), "interrupted", "", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			t.Errorf("multipart upload of %s left behind, not aborted", u.Key)
		}
	})

	t.Run("sse-s3", func(t *testing.T) {
		srv.MakeBucket("sses3")
		cfg := s3Config(srv, "sses3")
		cfg.SSE = store.SSES3
		s := newS3(t, cfg)
		if err := s.Put(ctxT(t), "a.cast", strings.NewReader("secret"), 6, ship.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		info, err := stat(t, srv, "sses3", "a.cast", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
			t.Errorf("x-amz-server-side-encryption = %q, want AES256", got)
		}
		if got := get(t, s, "a.cast"); got != "secret" {
			t.Errorf("Get = %q", got)
		}
	})

	t.Run("bucket encryption", func(t *testing.T) {
		srv.MakeBucket("bucketenc")
		s := newS3(t, s3Config(srv, "bucketenc"))
		var _ ship.EncryptionChecker = s
		err := s.CheckBucketEncryption(ctxT(t))
		if err == nil || !strings.Contains(err.Error(), "bucket bucketenc has no default encryption; s3EncryptionEnabled requires it") {
			t.Fatalf("CheckBucketEncryption before = %v, want no default encryption", err)
		}
		if err := srv.Client().SetBucketEncryption(ctxT(t), "bucketenc", sse.NewConfigurationSSES3()); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckBucketEncryption(ctxT(t)); err != nil {
			t.Fatalf("CheckBucketEncryption after SetBucketEncryption: %v", err)
		}
		// And objects put without SSE are encrypted by the bucket.
		if err := s.Put(ctxT(t), "a.cast", strings.NewReader("x"), 1, ship.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		info, err := stat(t, srv, "bucketenc", "a.cast", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
			t.Errorf("x-amz-server-side-encryption = %q, want AES256", got)
		}
	})

	t.Run("sse-c needs tls", func(t *testing.T) {
		cfg := s3Config(srv, "roundtrip")
		cfg.SSE, cfg.SSECKey = store.SSEC, make([]byte, 32)
		_, err := store.NewS3(ctxT(t), cfg)
		if err == nil || !strings.Contains(err.Error(), "useTLS") {
			t.Fatalf("NewS3 with SSE-C over HTTP: error %v, want a refusal naming useTLS", err)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		srv.MakeBucket("creds")
		cfg := s3Config(srv, "creds")
		cfg.AccessKey, cfg.SecretKey = "", ""
		home := t.TempDir()
		t.Setenv("HOME", home)
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
			"AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_PROFILE"} {
			t.Setenv(k, "")
		}
		if _, err := store.NewS3(ctxT(t), cfg); err == nil || !strings.Contains(err.Error(), "s3 credentials") {
			t.Fatalf("NewS3 without credentials: error %v, want s3 credentials", err)
		}

		file := filepath.Join(home, ".aws", "credentials")
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		ini := "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrongwrong\n\n" +
			"[tether]\naws_access_key_id = " + srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
		if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_PROFILE", "tether")
		s := newS3(t, cfg)
		if err := s.Put(ctxT(t), "file", strings.NewReader("x"), 1, ship.PutOptions{}); err != nil {
			t.Fatalf("Put with ~/.aws/credentials: %v", err)
		}

		// The environment comes before the file.
		t.Setenv("AWS_PROFILE", "default")
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		s = newS3(t, cfg)
		if err := s.Put(ctxT(t), "env", strings.NewReader("x"), 1, ship.PutOptions{}); err != nil {
			t.Fatalf("Put with AWS_ACCESS_KEY_ID: %v", err)
		}
	})

	t.Run("bad bucket or credentials", func(t *testing.T) {
		_, err := store.NewS3(ctxT(t), s3Config(srv, "nosuchbucket"))
		if err == nil || !strings.Contains(err.Error(), "nosuchbucket") || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("NewS3 of a missing bucket: error %v", err)
		}
		cfg := s3Config(srv, "roundtrip")
		cfg.SecretKey = "not-the-secret"
		_, err = store.NewS3(ctxT(t), cfg)
		if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
			t.Errorf("NewS3 with a wrong secret: error %v, want SignatureDoesNotMatch", err)
		}
	})

	t.Run("outage", func(t *testing.T) {
		srv.MakeBucket("outage")
		s := newS3(t, s3Config(srv, "outage"))
		if err := s.Put(ctxT(t), "before", strings.NewReader("x"), 1, ship.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := s.Put(ctx, "during", strings.NewReader("x"), 1, ship.PutOptions{})
		if err == nil {
			t.Fatal("Put to a stopped server succeeded")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Put to a stopped server took %v, past its context's deadline", d)
		}
		t.Logf("Put during outage: %v", err)
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := s.Get(ctx, "before"); err == nil || errors.Is(err, ship.ErrNotFound) {
			t.Errorf("Get from a stopped server: error %v, want a failure other than not found", err)
		}
		srv.Restart()
		if err := s.Put(ctxT(t), "after", strings.NewReader("x"), 1, ship.PutOptions{}); err != nil {
			t.Fatalf("Put after restart: %v", err)
		}
		if got, want := listAll(t, s, ""), []string{"after=1", "before=1"}; !equal(got, want) {
			t.Errorf("List after restart = %v, want %v", got, want)
		}
	})
}

// TestS3SSEC runs against a MinIO serving TLS with a certificate of a private CA.
func TestS3SSEC(t *testing.T) {
	srv := miniotest.Start(t, miniotest.WithTLS())
	srv.MakeBucket("ssec")
	key := bytes.Repeat([]byte{7}, 32)
	cfg := s3Config(srv, "ssec")
	cfg.SSE, cfg.SSECKey, cfg.PartSize = store.SSEC, key, 5<<20
	s := newS3(t, cfg)

	small := []byte("secret cast")
	big := randomBytes(12 << 20) // multipart: 3 parts
	for k, data := range map[string][]byte{"small.cast": small, "big.cast": big} {
		if err := s.Put(ctxT(t), k, bytes.NewReader(data), int64(len(data)), ship.PutOptions{}); err != nil {
			t.Fatalf("Put(%s): %v", k, err)
		}
		if got := get(t, s, k); got != string(data) {
			t.Errorf("Get(%s) differs", k)
		}
	}
	// Without the key, the object cannot be read.
	if _, err := stat(t, srv, "ssec", "small.cast", minio.StatObjectOptions{}); err == nil {
		t.Error("StatObject without the SSE-C key succeeded")
	}
	info, err := stat(t, srv, "ssec", "small.cast", minio.StatObjectOptions{ServerSideEncryption: mustSSEC(t, key)})
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Metadata.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm"); got != "AES256" {
		t.Errorf("x-amz-server-side-encryption-customer-algorithm = %q, want AES256", got)
	}
	// With another key neither.
	other := cfg
	other.SSECKey = bytes.Repeat([]byte{8}, 32)
	if _, err := newS3(t, other).Get(ctxT(t), "small.cast"); err == nil || errors.Is(err, ship.ErrNotFound) {
		t.Errorf("Get with the wrong SSE-C key: error %v, want a refusal", err)
	}
	if got, want := listAll(t, s, ""), []string{"big.cast=12582912", "small.cast=11"}; !equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}

	// The private CA is needed to trust the server.
	noCA := cfg
	noCA.CAFile = ""
	if _, err := store.NewS3(ctxT(t), noCA); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("NewS3 without the CA: error %v, want a certificate error", err)
	}
}

func TestS3ConfigValidate(t *testing.T) {
	good := store.S3Config{Endpoint: "minio.example:9000", Bucket: "recordings", AccessKey: "a", SecretKey: "s"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*store.S3Config)
		want string
	}{
		{"no endpoint", func(c *store.S3Config) { c.Endpoint = "" }, "s3 endpoint"},
		{"scheme", func(c *store.S3Config) { c.Endpoint = "https://minio.example" }, "s3 endpoint"},
		{"path", func(c *store.S3Config) { c.Endpoint = "minio.example/x" }, "s3 endpoint"},
		{"bad port", func(c *store.S3Config) { c.Endpoint = "minio.example:" }, "s3 endpoint"},
		{"no bucket", func(c *store.S3Config) { c.Bucket = "" }, "s3 bucket"},
		{"bad bucket", func(c *store.S3Config) { c.Bucket = "Bad_Bucket" }, "s3 bucket"},
		{"bad prefix", func(c *store.S3Config) { c.Prefix = "a/../b" }, "s3 prefix"},
		{"secret alone", func(c *store.S3Config) { c.AccessKey = "" }, "s3 accessKey"},
		{"access alone", func(c *store.S3Config) { c.SecretKey = "" }, "s3 secretKey"},
		{"token alone", func(c *store.S3Config) { c.AccessKey, c.SecretKey, c.SessionToken = "", "", "t" }, "s3 sessionToken"},
		{"ca without tls", func(c *store.S3Config) { c.CAFile = "/etc/ca.pem" }, "s3 caFile"},
		{"bad sse", func(c *store.S3Config) { c.SSE = "aws:kms" }, "s3 sse"},
		{"sse-c short key", func(c *store.S3Config) { c.UseTLS, c.SSE, c.SSECKey = true, store.SSEC, make([]byte, 16) }, "s3 sseCKey"},
		{"sse-c no tls", func(c *store.S3Config) { c.SSE, c.SSECKey = store.SSEC, make([]byte, 32) }, "s3 sse"},
		{"key without sse-c", func(c *store.S3Config) { c.SSECKey = make([]byte, 32) }, "s3 sseCKey"},
		{"small parts", func(c *store.S3Config) { c.PartSize = 1 << 20 }, "s3 partSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %s", err, tc.want)
			}
			if _, err := store.NewS3(context.Background(), c); err == nil {
				t.Fatal("NewS3 accepted the config Validate refused")
			}
		})
	}
}

// A reader from Get seeks, so a page far into a large recording is a ranged read.
func TestS3GetSeeks(t *testing.T) {
	m := miniotest.Start(t)
	m.MakeBucket("seek")
	s, err := store.NewS3(t.Context(), s3Config(m, "seek"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("0123456789", 100))
	if err := s.Put(t.Context(), "k", bytes.NewReader(data), int64(len(data)), ship.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.(io.Seeker).Seek(995, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "56789" {
		t.Fatalf("after seeking: %q, %v", rest, err)
	}
}
