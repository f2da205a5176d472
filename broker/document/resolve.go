package document

import (
	"github.com/tetherhq/tether/streams/wire/api"
)

// Invocation is what a session runs: a document resolved with its parameters.
type Invocation struct {
	SessionType string
	// TTY is true for Standard_Stream and InteractiveCommands sessions.
	TTY bool
	// Argv is nil for Standard_Stream (the login shell); for the commands documents it
	// is {Shell, "-c", script, ArgZero, values...}.
	Argv          []string
	RunAsElevated bool
	// Port is set for Port documents.
	Port *PortSpec
	// Parameters are the resolved values, defaults included, for the policy input and
	// the session record.
	Parameters map[string][]string
}

// Resolve checks params against the document's parameters and substitutes them. Every
// value must be valid UTF-8 without control characters (tab and newline aside), within
// its maxChars (DefaultMaxChars unless set), in allowedValues and matching
// allowedPattern when the parameter has them. Errors name the parameter and quote at
// most 64 characters of a value.
func (d *Document) Resolve(params map[string][]string) (Invocation, error) {
	vals, err := d.resolveParams(params)
	if err != nil {
		return Invocation{}, err
	}
	inv := Invocation{SessionType: d.sessionType, Parameters: vals}
	switch d.sessionType {
	case api.SessionTypeStandardStream:
		inv.TTY = true
	case api.SessionTypeInteractive, api.SessionTypeNonInteractive:
		inv.TTY = d.sessionType == api.SessionTypeInteractive
		script, args := d.script.build(vals)
		inv.Argv = append([]string{Shell, "-c", script, ArgZero}, args...)
		inv.RunAsElevated = d.runAsElevated
	case api.SessionTypePort:
		spec, err := d.port.resolve(vals)
		if err != nil {
			return Invocation{}, err
		}
		inv.Port = spec
	}
	return inv, nil
}
