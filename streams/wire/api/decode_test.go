package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"target":"a","nope":1}`, `unknown field "nope"`},
		{`{"target":"a"} {"target":"b"}`, "data after the JSON value"},
		{`{"target":"a"}}`, "data after the JSON value"},
		{`{"target":"a"}]`, "data after the JSON value"},
		{`{"target":"a"} x`, "data after the JSON value"},
		{`{"target":`, "malformed JSON"},
		{`[]`, "malformed JSON"},
		{``, "empty body"},
		{`{"target":"` + strings.Repeat("x", 100) + `"}`, "the limit is 64"},
	} {
		var r StartSessionRequest
		err := Decode([]byte(tc.in), &r, 64)
		var de *DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%.40s) = %v, want a DecodeError with %q", tc.in, err, tc.want)
		}
	}
	var r StartSessionRequest
	if err := Decode([]byte(" {\"target\":\"web-1\",\"interactive\":true}\n\t "), &r, 64); err != nil || r.Target != "web-1" || !r.Interactive {
		t.Errorf("valid body: %+v, %v", r, err)
	}
}

// Replies may carry fields a client does not know (a newer broker), but stay one bounded
// JSON value.
func TestDecodeReplyLenient(t *testing.T) {
	var r WhoAmIResponse
	if err := decode([]byte(`{"principal":{"name":"a"},"added_later":1}`), &r, MaxReply, false); err != nil || r.Principal.Name != "a" {
		t.Errorf("reply with a new field: %+v, %v", r, err)
	}
	if err := decode([]byte(`{"principal":{}}}`), &r, MaxReply, false); err == nil {
		t.Error("reply with trailing data accepted")
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts is exactly one JSON value,
// within the limit, that re-encodes to what encoding/json would decode from it.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"target":"web-1","interactive":true,"cols":80}`, `{"a":1}}`, `{}`, `null`, `{"command":["a","b"]} `, `{"parameters":{"x":["1"]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 4096
		var r StartSessionRequest
		if Decode(b, &r, max) != nil {
			return
		}
		if len(b) > max {
			t.Fatalf("accepted %d bytes over the %d limit", len(b), max)
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which is not one JSON value", b)
		}
		// Lenient json.Unmarshal agrees on what it says.
		var r2 StartSessionRequest
		if err := json.Unmarshal(b, &r2); err != nil {
			t.Fatalf("Decode accepted what json.Unmarshal refuses: %v", err)
		}
		x, _ := json.Marshal(r)
		y, _ := json.Marshal(r2)
		if !bytes.Equal(x, y) {
			t.Fatalf("Decode and json.Unmarshal disagree: %s vs %s", x, y)
		}
	})
}
