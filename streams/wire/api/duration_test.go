package api

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(Duration(90 * time.Second))
	if err != nil || string(b) != `"1m30s"` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"720h"`), &d); err != nil || d.Std() != 720*time.Hour {
		t.Fatalf("unmarshal 720h: %v, %v", d.Std(), err)
	}
	for _, tc := range []struct{ in, msg string }{
		{`15`, `not a string like "5s"`},
		{`"30d"`, `unknown unit "d" in duration "30d"`},
		{`"5"`, `missing unit in duration "5"`},
	} {
		err := json.Unmarshal([]byte(tc.in), &d)
		var de *DurationError
		if !errors.As(err, &de) || de.Raw != tc.in || de.Msg != tc.msg {
			t.Errorf("unmarshal %s: %v, want %s", tc.in, err, tc.msg)
		}
	}
}
