package control

import (
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestDecodeStrict(t *testing.T) {
	var r api.StartSessionRequest
	for _, tc := range []struct{ in, want string }{
		{`{"target":"a","nope":1}`, `unknown field "nope"`},
		{`{"target":"a"} {"target":"b"}`, "data after the JSON value"},
		{`{"target":"a"}}`, "data after the JSON value"},
		{`{"target":"a"}]`, "data after the JSON value"},
		{`{"target":`, "StartSession request: malformed JSON"},
		{`[]`, "StartSession request: malformed JSON"},
	} {
		err := decodeRequest(api.VerbStartSession, []byte(tc.in), &r, api.MaxRequest)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !api.IsCode(err, api.CodeBadRequest) {
			t.Errorf("decode(%s) = %v, want BadRequest with %q", tc.in, err, tc.want)
		}
	}
	if err := decodeRequest(api.VerbStartSession, nil, &r, api.MaxRequest); err != nil {
		t.Errorf("empty body: %v", err)
	}
}

func TestValidateStart(t *testing.T) {
	long := make([]string, maxArgs+1)
	for i := range long {
		long[i] = "x"
	}
	for _, tc := range []struct {
		r    api.StartSessionRequest
		want string
	}{
		{api.StartSessionRequest{}, "target is required"},
		{api.StartSessionRequest{Target: "a>b", Interactive: true}, "target"},
		{api.StartSessionRequest{Target: "t", Command: long}, "arguments"},
		{api.StartSessionRequest{Target: "t", Command: []string{""}}, "command[0] is empty"},
		{api.StartSessionRequest{Target: "t", Command: []string{strings.Repeat("x", maxArgBytes+1)}}, "bytes"},
		{api.StartSessionRequest{Target: "t"}, "needs a command"},
		{api.StartSessionRequest{Target: "t", Interactive: true, Cols: 60000}, "too large"},
		{api.StartSessionRequest{Target: "t", Interactive: true, Term: "xterm; rm -rf /"}, "not a terminal type"},
		{api.StartSessionRequest{Target: "t", Interactive: true, Document: "../etc"}, "document_name"},
	} {
		err := validateStart(&tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validateStart(%+v) = %v, want %q", tc.r, err, tc.want)
		}
	}
	if err := validateStart(&api.StartSessionRequest{Target: "web-1", Interactive: true, Term: "xterm-256color", Cols: 80, Rows: 24}); err != nil {
		t.Errorf("valid request refused: %v", err)
	}
}

// FuzzStartSessionRequest: arbitrary request bodies never panic the decoder or the
// validator, and whatever passes both is within the documented limits.
func FuzzStartSessionRequest(f *testing.F) {
	f.Add([]byte(`{"target":"web-1","interactive":true,"cols":80,"rows":24,"term":"xterm"}`))
	f.Add([]byte(`{"target":"web-1","command":["uname","-a"]}`))
	f.Add([]byte(`{"target":"a.b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r api.StartSessionRequest
		if decodeRequest(api.VerbStartSession, b, &r, api.MaxRequest) != nil || validateStart(&r) != nil {
			return
		}
		if r.Target == "" || strings.ContainsAny(r.Target, ".*> ") || len(r.Command) > maxArgs || r.Cols > maxDim {
			t.Fatalf("accepted invalid request %+v", r)
		}
	})
}
