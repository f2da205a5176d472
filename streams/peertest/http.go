package peertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// HTTP is a Go HTTP server on 127.0.0.1 serving deterministic content of any size:
// GET /bytes/N answers N pseudo-random bytes, the same every time, with Content-Length.
type HTTP struct {
	Addr string // 127.0.0.1:PORT

	srv      *httptest.Server
	requests atomic.Int64
}

// StartHTTP starts the server, closed by t.Cleanup.
func StartHTTP(t testing.TB) *HTTP {
	t.Helper()
	h := &HTTP{}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	h.Addr = strings.TrimPrefix(h.srv.URL, "http://")
	t.Cleanup(h.srv.Close)
	return h
}

// URL is the URL of size bytes of content on this server.
func (h *HTTP) URL(size int64) string { return URLAt(h.Addr, size) }

// URLAt is the URL of size bytes of content at addr (host:port): this server reached some
// other way, through a forwarded port say.
func URLAt(addr string, size int64) string { return fmt.Sprintf("http://%s/bytes/%d", addr, size) }

// Requests is how many requests for content the server has answered (or begun to).
func (h *HTTP) Requests() int64 { return h.requests.Load() }

// Content writes the first size bytes the server serves, for comparison.
func Content(w io.Writer, size int64) error {
	_, err := io.CopyN(w, contentReader(), size)
	return err
}

// ContentSHA256 is the hex SHA-256 of size bytes of content, what a client must receive.
func ContentSHA256(size int64) string {
	h := sha256.New()
	_ = Content(h, size)
	return hex.EncodeToString(h.Sum(nil))
}

func contentReader() io.Reader {
	return rand.NewChaCha8([32]byte{'t', 'e', 't', 'h', 'e', 'r', '-', 'h', 't', 't', 'p'})
}

func (h *HTTP) serve(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/bytes/"), 10, 64)
	if !strings.HasPrefix(r.URL.Path, "/bytes/") || err != nil || n < 0 {
		http.Error(w, "GET /bytes/N, N a number of bytes", http.StatusNotFound)
		return
	}
	h.requests.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.CopyN(w, contentReader(), n)
}
