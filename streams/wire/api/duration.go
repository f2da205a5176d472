package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in JSON as Go writes durations ("20m0s") and read
// from one ("5s", "720h"). It is the one duration type of Tether's JSON: the API's records,
// the agent's start requests and the broker's config file.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string like "5s". A number is refused rather than taken as
// nanoseconds: a bare 15 in a config file means seconds to whoever wrote it.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &DurationError{Raw: string(b), Msg: "not a string like \"5s\""}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &DurationError{Raw: string(b), Msg: strings.TrimPrefix(err.Error(), "time: ")}
	}
	*d = Duration(v)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// DurationError is a JSON value a Duration refused. encoding/json does not say which field
// held it: a reader that wants to name the field looks for Raw in its input.
type DurationError struct {
	Raw string // the JSON value, as written
	Msg string // what is wrong with it
}

func (e *DurationError) Error() string { return fmt.Sprintf("%s is not a duration: %s", e.Raw, e.Msg) }
