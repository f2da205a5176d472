package clicmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// parseParameters reads --parameters values into a document's parameters. Each value is
// either SSM's JSON form, {"portNumber":["80"],"localPortNumber":["9999"]}, where a bare
// string stands for a one-element list, or the shorthand NAME=VALUE[,NAME=VALUE...]. A
// name given more than once collects all its values in order. A value with a comma needs
// the JSON form.
func parseParameters(flags []string) (map[string][]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	params := map[string][]string{}
	add := func(name string, values ...string) error {
		if name == "" {
			return fmt.Errorf("empty parameter name")
		}
		params[name] = append(params[name], values...)
		if params[name] == nil {
			params[name] = []string{}
		}
		return nil
	}
	for _, v := range flags {
		if trimmed := strings.TrimSpace(v); strings.HasPrefix(trimmed, "{") {
			if err := parseJSONParameters(trimmed, add); err != nil {
				return nil, fmt.Errorf("--parameters %s: %w", v, err)
			}
			continue
		}
		if v == "" {
			return nil, fmt.Errorf("--parameters: empty value")
		}
		for pair := range strings.SplitSeq(v, ",") {
			name, value, ok := strings.Cut(pair, "=")
			if !ok {
				return nil, fmt.Errorf("--parameters %q: %q is not NAME=VALUE (a value with a comma needs the JSON form {\"NAME\":[\"VALUE\"]})", v, pair)
			}
			if err := add(strings.TrimSpace(name), value); err != nil {
				return nil, fmt.Errorf("--parameters %q: %w", v, err)
			}
		}
	}
	return params, nil
}

func parseJSONParameters(s string, add func(string, ...string) error) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	for name, rv := range raw {
		var one string
		var list []string
		switch {
		case bytes.Equal(bytes.TrimSpace(rv), []byte("null")):
			return fmt.Errorf("parameter %q: want a list of strings, got null", name)
		case json.Unmarshal(rv, &one) == nil:
			list = []string{one}
		case json.Unmarshal(rv, &list) == nil:
		default:
			return fmt.Errorf("parameter %q: want a list of strings like [\"80\"], got %s", name, rv)
		}
		if err := add(name, list...); err != nil {
			return err
		}
	}
	return nil
}
