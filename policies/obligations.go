package policies

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Obligations are the conditions an allowed request runs under, as the broker enforces
// them. The zero value imposes nothing.
type Obligations struct {
	// MaxDuration ends the session after this long; zero is no limit.
	MaxDuration time.Duration
	// IdleTimeout ends the session after this long without input; zero is no limit.
	IdleTimeout time.Duration
	// RunAs is the local user the session's process runs as; empty leaves it to the
	// session preferences.
	RunAs string
	// RecordingRequired refuses the session unless its transcript can be recorded.
	RecordingRequired bool
}

// Obligation keys, as a decision's obligations object spells them.
const (
	ObligationMaxDuration       = "max_duration"
	ObligationIdleTimeout       = "idle_timeout"
	ObligationRunAs             = "run_as"
	ObligationRecordingRequired = "recording_required"
)

// runAsName is what a run_as obligation may name: a portable POSIX user name.
var runAsName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

// ParseObligations reads a decision's obligations object. An unknown key or a value of
// the wrong form is an error, naming every such key: an obligation the broker does not
// understand must deny the request rather than be ignored.
func ParseObligations(m map[string]any) (Obligations, error) {
	var ob Obligations
	var errs []string
	for k, v := range m {
		var err error
		switch k {
		case ObligationMaxDuration:
			ob.MaxDuration, err = parseLimit(v)
		case ObligationIdleTimeout:
			ob.IdleTimeout, err = parseLimit(v)
		case ObligationRunAs:
			s, ok := v.(string)
			switch {
			case !ok:
				err = fmt.Errorf("%s, not a string", typeName(v))
			case !runAsName.MatchString(s):
				err = fmt.Errorf("%q is not a user name", s)
			}
			ob.RunAs = s
		case ObligationRecordingRequired:
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("%s, not a boolean", typeName(v))
			}
			ob.RecordingRequired = b
		default:
			err = fmt.Errorf("unknown obligation")
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return Obligations{}, fmt.Errorf("obligations: %s", strings.Join(errs, "; "))
	}
	return ob, nil
}

// parseLimit reads a positive Go duration string such as "30m" or "500ms".
func parseLimit(v any) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%s, not a duration string", typeName(v))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive", s)
	}
	return d, nil
}

// typeName names the JSON type of a value as the rego package returns it.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}
