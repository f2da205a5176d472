package document

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tetherhq/tether/streams/wire/api"
)

// MaxSize bounds a document's content.
const MaxSize = 64 << 10

// SchemaVersion is the only schemaVersion Tether reads, as SSM's session documents have it.
const SchemaVersion = "1.0"

// Document is a parsed and validated session document. It is immutable.
type Document struct {
	sessionType string
	description string

	// Standard_Stream.
	prefs       api.Preferences
	recordInput bool

	params map[string]*param
	names  []string // of params, sorted

	// InteractiveCommands and NonInteractiveCommands.
	script        *template
	runAsElevated bool

	// Port.
	port *portTemplate
}

// Parse reads and validates a document in format api.FormatYAML or api.FormatJSON ("" is
// YAML). Unknown fields, duplicate keys, more than one YAML document, invalid UTF-8 and
// content over MaxSize are errors; errors name the field and, where known, its line.
func Parse(content []byte, format string) (*Document, error) {
	content = bytes.TrimPrefix(content, []byte("\uFEFF"))
	switch {
	case len(bytes.TrimSpace(content)) == 0:
		return nil, errEmpty
	case len(content) > MaxSize:
		return nil, fmt.Errorf("document: content is %d bytes, over the %d KiB limit", len(content), MaxSize>>10)
	case !utf8.Valid(content):
		return nil, errors.New("document: content is not valid UTF-8")
	}
	var raw rawDocument
	var err error
	switch {
	case format == "" || strings.EqualFold(format, api.FormatYAML):
		err = decodeYAML(content, &raw)
	case strings.EqualFold(format, api.FormatJSON):
		err = decodeJSON(content, &raw)
	default:
		return nil, fmt.Errorf("document: unknown format %q (want %s or %s)", format, api.FormatYAML, api.FormatJSON)
	}
	if err != nil {
		return nil, err
	}
	return build(&raw)
}

var sessionTypes = []string{api.SessionTypeStandardStream, api.SessionTypeInteractive, api.SessionTypeNonInteractive, api.SessionTypePort}

func build(raw *rawDocument) (*Document, error) {
	switch {
	case !raw.SchemaVersion.set || raw.SchemaVersion.v == "":
		return nil, errors.New("document: schemaVersion is required (want \"1.0\")")
	case raw.SchemaVersion.v != SchemaVersion:
		return nil, fmt.Errorf("document: schemaVersion %.64q is not supported (want %q)", raw.SchemaVersion.v, SchemaVersion)
	case raw.SessionType == "":
		return nil, fmt.Errorf("document: sessionType is required (one of %s)", strings.Join(sessionTypes, ", "))
	case !slices.Contains(sessionTypes, raw.SessionType):
		return nil, fmt.Errorf("document: sessionType %.64q is not one of %s", raw.SessionType, strings.Join(sessionTypes, ", "))
	}
	d := &Document{sessionType: raw.SessionType, description: raw.Description}
	params, err := parseParams(raw.Parameters)
	if err != nil {
		return nil, err
	}
	d.params = params
	for name := range params {
		d.names = append(d.names, name)
	}
	slices.Sort(d.names)

	if raw.SessionType != api.SessionTypeStandardStream && raw.Inputs != nil {
		return nil, fmt.Errorf("document: inputs are only for %s documents, not %s", api.SessionTypeStandardStream, raw.SessionType)
	}
	switch raw.SessionType {
	case api.SessionTypeStandardStream:
		if len(raw.Parameters) > 0 {
			return nil, fmt.Errorf("document: parameters are not allowed in a %s document (found %s)", raw.SessionType, strings.Join(d.names, ", "))
		}
		if raw.Properties != nil {
			return nil, fmt.Errorf("document: properties are not allowed in a %s document; its settings are inputs", raw.SessionType)
		}
		d.prefs, d.recordInput, err = parseInputs(raw.Inputs)
	case api.SessionTypeInteractive, api.SessionTypeNonInteractive:
		err = d.buildCommands(raw.Properties)
	case api.SessionTypePort:
		d.port, err = d.buildPort(raw.Properties)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Document) buildCommands(p *rawProperties) error {
	if p == nil {
		return fmt.Errorf("document: properties.linux.commands is required in a %s document", d.sessionType)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"portNumber", p.PortNumber.set}, {"type", p.Type.set}, {"localPortNumber", p.LocalPortNumber.set}, {"host", p.Host.set}} {
		if f.set {
			return fmt.Errorf("document: properties.%s is only for %s documents", f.name, api.SessionTypePort)
		}
	}
	// Tether runs Linux commands only; the other platforms' commands are checked for
	// undeclared placeholders so that a document stays coherent.
	for _, os := range []struct {
		name string
		p    *rawPlatform
	}{{"windows", p.Windows}, {"macos", p.MacOS}} {
		if os.p != nil {
			if _, err := d.placeholders("properties."+os.name+".commands", os.p.Commands.v); err != nil {
				return err
			}
		}
	}
	if p.Linux == nil || !p.Linux.Commands.set || strings.TrimSpace(p.Linux.Commands.v) == "" {
		return fmt.Errorf("document: properties.linux.commands is required in a %s document (Tether runs Linux commands only)", d.sessionType)
	}
	t, err := d.lex("properties.linux.commands", p.Linux.Commands.v)
	if err != nil {
		return err
	}
	d.script = t
	d.runAsElevated = p.Linux.RunAsElevated.v
	return nil
}

// SessionType is the document's sessionType.
func (d *Document) SessionType() string { return d.sessionType }

// Describe returns the document's session type, description and parameters (sorted by
// name; a StringList default is its items joined by commas).
func (d *Document) Describe() (sessionType, description string, params []api.DocumentParameter) {
	for _, name := range d.names {
		p := d.params[name]
		params = append(params, api.DocumentParameter{
			Name:          name,
			Type:          p.typ,
			Description:   p.desc,
			Default:       strings.Join(p.def, ","),
			AllowedValues: slices.Clone(p.allowed),
		})
	}
	return d.sessionType, d.description, params
}

// Preferences returns a Standard_Stream document's inputs, with defaults applied
// (IdleSessionTimeout 20); for other documents, the defaults alone.
func (d *Document) Preferences() api.Preferences {
	if d.sessionType != api.SessionTypeStandardStream {
		return api.Preferences{IdleSessionTimeout: DefaultIdleSessionTimeout}
	}
	return d.prefs
}

// RecordInput reports a Standard_Stream document's recordInput input (also
// Preferences().RecordInput).
func (d *Document) RecordInput() bool { return d.recordInput }
