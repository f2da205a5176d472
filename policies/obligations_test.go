package policies

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseObligations(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]any
		want    Obligations
		wantErr string // a substring of the error; "" for none
	}{
		{name: "none", in: nil},
		{name: "empty", in: map[string]any{}},
		{
			name: "all",
			in:   map[string]any{"max_duration": "1h30m", "idle_timeout": "500ms", "run_as": "ec2-user", "recording_required": true},
			want: Obligations{MaxDuration: 90 * time.Minute, IdleTimeout: 500 * time.Millisecond, RunAs: "ec2-user", RecordingRequired: true},
		},
		{name: "recording false", in: map[string]any{"recording_required": false}},
		{name: "unknown key", in: map[string]any{"mfa": true}, wantErr: "mfa: unknown obligation"},
		{name: "bad duration", in: map[string]any{"max_duration": "soon"}, wantErr: `max_duration: "soon" is not a duration`},
		{name: "zero duration", in: map[string]any{"idle_timeout": "0s"}, wantErr: `idle_timeout: "0s" is not positive`},
		{name: "negative duration", in: map[string]any{"max_duration": "-5m"}, wantErr: "not positive"},
		{name: "number duration", in: map[string]any{"max_duration": json.Number("60")}, wantErr: "max_duration: a number, not a duration string"},
		{name: "run_as not string", in: map[string]any{"run_as": []any{"a"}}, wantErr: "run_as: an array, not a string"},
		{name: "run_as empty", in: map[string]any{"run_as": ""}, wantErr: `run_as: "" is not a user name`},
		{name: "run_as shell", in: map[string]any{"run_as": "root; rm -rf /"}, wantErr: "is not a user name"},
		{name: "run_as too long", in: map[string]any{"run_as": strings.Repeat("a", 33)}, wantErr: "is not a user name"},
		{name: "recording not bool", in: map[string]any{"recording_required": "yes"}, wantErr: "recording_required: a string, not a boolean"},
		{
			name:    "every problem named",
			in:      map[string]any{"max_duration": "1h", "zz": 1, "aa": nil},
			wantErr: "obligations: aa: unknown obligation; zz: unknown obligation",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseObligations(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseObligations = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				if got != (Obligations{}) {
					t.Errorf("ParseObligations with an error = %+v, want the zero Obligations", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseObligations = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
