package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxReply bounds a control-plane reply a client decodes: well above any answer the
// control plane gives (its pages stay under the server's message limit), small enough
// that a forged reply cannot make a client hold much.
const MaxReply = 8 << 20

// DecodeError is why an untrusted JSON body was refused. Its message names the problem
// (the unknown field, the size limit, the data after the value) and is safe to show the
// sender.
type DecodeError struct{ msg string }

func (e *DecodeError) Error() string { return e.msg }

// Decode reads data, an untrusted JSON body, into v strictly: data must be at most max
// bytes, hold exactly one JSON value (nothing but white space after it: `{"a":1}}` is
// refused), and, where v is a struct, name only fields v has. It is the one decoder for
// every request body that crosses the network: the control plane's and the agent's.
// The error is a *DecodeError.
func Decode(data []byte, v any, max int) error {
	return decode(data, v, max, true)
}

func decode(data []byte, v any, max int, strict bool) error {
	if len(data) > max {
		return &DecodeError{fmt.Sprintf("body is %d bytes; the limit is %d", len(data), max)}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if strict {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return &DecodeError{"empty body: want a JSON value"}
		}
		return &DecodeError{"malformed JSON: " + err.Error()}
	}
	// More() is false before a stray '}' or ']'; only the end of the input will do.
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return &DecodeError{"malformed JSON: data after the JSON value"}
	}
	return nil
}
