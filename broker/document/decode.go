package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The raw types mirror the document's schema; decoding into them is strict (unknown
// fields are errors). Their yaml and json tags must agree: the key walker reads them.

type rawDocument struct {
	SchemaVersion scalar                   `yaml:"schemaVersion" json:"schemaVersion"`
	Description   string                   `yaml:"description" json:"description"`
	SessionType   string                   `yaml:"sessionType" json:"sessionType"`
	Inputs        *rawInputs               `yaml:"inputs" json:"inputs"`
	Parameters    map[string]*rawParameter `yaml:"parameters" json:"parameters"`
	Properties    *rawProperties           `yaml:"properties" json:"properties"`
}

type rawInputs struct {
	S3BucketName                string           `yaml:"s3BucketName" json:"s3BucketName"`
	S3KeyPrefix                 string           `yaml:"s3KeyPrefix" json:"s3KeyPrefix"`
	S3EncryptionEnabled         flexBool         `yaml:"s3EncryptionEnabled" json:"s3EncryptionEnabled"`
	CloudWatchLogGroupName      string           `yaml:"cloudWatchLogGroupName" json:"cloudWatchLogGroupName"`
	CloudWatchEncryptionEnabled flexBool         `yaml:"cloudWatchEncryptionEnabled" json:"cloudWatchEncryptionEnabled"`
	CloudWatchStreamingEnabled  flexBool         `yaml:"cloudWatchStreamingEnabled" json:"cloudWatchStreamingEnabled"`
	KMSKeyID                    string           `yaml:"kmsKeyId" json:"kmsKeyId"`
	RunAsEnabled                flexBool         `yaml:"runAsEnabled" json:"runAsEnabled"`
	RunAsDefaultUser            string           `yaml:"runAsDefaultUser" json:"runAsDefaultUser"`
	IdleSessionTimeout          flexInt          `yaml:"idleSessionTimeout" json:"idleSessionTimeout"`
	MaxSessionDuration          flexInt          `yaml:"maxSessionDuration" json:"maxSessionDuration"`
	ShellProfile                *rawShellProfile `yaml:"shellProfile" json:"shellProfile"`
	TranscriptRetentionDays     flexInt          `yaml:"transcriptRetentionDays" json:"transcriptRetentionDays"`
	RecordInput                 flexBool         `yaml:"recordInput" json:"recordInput"`
	StreamingEnabled            flexBool         `yaml:"streamingEnabled" json:"streamingEnabled"`
}

type rawShellProfile struct {
	Windows string `yaml:"windows" json:"windows"`
	Linux   string `yaml:"linux" json:"linux"`
}

type rawParameter struct {
	Type           string      `yaml:"type" json:"type"`
	Description    string      `yaml:"description" json:"description"`
	Default        *paramValue `yaml:"default" json:"default"`
	AllowedValues  []scalar    `yaml:"allowedValues" json:"allowedValues"`
	AllowedPattern string      `yaml:"allowedPattern" json:"allowedPattern"`
	DisplayType    string      `yaml:"displayType" json:"displayType"`
	MinChars       flexInt     `yaml:"minChars" json:"minChars"`
	MaxChars       flexInt     `yaml:"maxChars" json:"maxChars"`
	MinItems       flexInt     `yaml:"minItems" json:"minItems"`
	MaxItems       flexInt     `yaml:"maxItems" json:"maxItems"`
}

type rawProperties struct {
	Linux           *rawPlatform `yaml:"linux" json:"linux"`
	Windows         *rawPlatform `yaml:"windows" json:"windows"`
	MacOS           *rawPlatform `yaml:"macos" json:"macos"`
	PortNumber      scalar       `yaml:"portNumber" json:"portNumber"`
	Type            scalar       `yaml:"type" json:"type"`
	LocalPortNumber scalar       `yaml:"localPortNumber" json:"localPortNumber"`
	Host            scalar       `yaml:"host" json:"host"`
}

type rawPlatform struct {
	Commands      commands `yaml:"commands" json:"commands"`
	RunAsElevated flexBool `yaml:"runAsElevated" json:"runAsElevated"`
}

var errEmpty = errors.New("document: content is empty")

// keyPos is where one mapping key sits: its dotted path and lines.
type keyPos struct {
	path      string
	line      int
	valueLine int
}

func decodeYAML(b []byte, raw *rawDocument) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return errEmpty
		}
		return fmt.Errorf("document: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return fmt.Errorf("document: content holds more than one YAML document (the second starts at line %d)", next.Line)
	case !errors.Is(err, io.EOF):
		return fmt.Errorf("document: content holds more than one YAML document: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		return errEmpty
	}
	var keys []keyPos
	if err := walk(root.Content[0], reflect.TypeFor[rawDocument](), "", &keys); err != nil {
		return err
	}
	// The walk has found unknown and duplicate keys already, with their paths; the
	// strict decoder still checks, for what the walk does not follow (aliases).
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(raw); err != nil {
		return yamlError(err, keys)
	}
	return nil
}

var (
	yamlLineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknownRE = regexp.MustCompile(`^field (.+) not found in type .*$`)
	yamlTypeRE    = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `.*`)? into (.+)$")
)

// yamlError turns a yaml.v3 decoding error into one naming the field's path.
func yamlError(err error, keys []keyPos) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msgs = te.Errors
	}
	m := yamlLineRE.FindStringSubmatch(msgs[0])
	if m == nil {
		return fmt.Errorf("document: %s", strings.TrimPrefix(msgs[0], "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	if u := yamlUnknownRE.FindStringSubmatch(msg); u != nil {
		return fmt.Errorf("document: unknown field %q at line %d", u[1], line)
	}
	if t := yamlTypeRE.FindStringSubmatch(msg); t != nil {
		got := map[string]string{"!!seq": "a list", "!!map": "a mapping", "!!str": "a string",
			"!!int": "a number", "!!float": "a number", "!!bool": "a boolean"}[t[1]]
		if got == "" {
			got = t[1]
		}
		want := t[2]
		switch {
		case want == "string":
			want = "a string"
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "document."):
			want = "a mapping"
		}
		msg = "want " + want + ", got " + got
	}
	if p := pathAt(keys, line); p != "" {
		return fmt.Errorf("document: %s: %s (line %d)", p, msg, line)
	}
	return fmt.Errorf("document: line %d: %s", line, msg)
}

// pathAt finds the path of the key whose value (or, failing that, key) is on line.
func pathAt(keys []keyPos, line int) string {
	best := ""
	for _, k := range keys {
		if k.valueLine == line && len(k.path) > len(best) {
			best = k.path
		}
	}
	if best != "" {
		return best
	}
	for _, k := range keys {
		if k.line == line && len(k.path) > len(best) {
			best = k.path
		}
	}
	return best
}

// walk checks a mapping node against the Go type t that will receive it: every key must
// be a string, appear once and name a field. It records where each key sits.
func walk(n *yaml.Node, t reflect.Type, path string, keys *[]keyPos) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode || reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return nil // scalars and custom types are checked by decoding
	}
	var fields map[string]reflect.Type
	switch t.Kind() {
	case reflect.Struct:
		fields = map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			fields[strings.Split(f.Tag.Get("yaml"), ",")[0]] = f.Type
		}
	case reflect.Map:
	default:
		return nil
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("document: %s: keys must be strings, got %s at line %d", orTop(path), nodeKind(k), k.Line)
		}
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("document: duplicate key %q%s at line %d (first at line %d)", k.Value, in(path), k.Line, first)
		}
		seen[k.Value] = k.Line
		p := join(path, k.Value)
		*keys = append(*keys, keyPos{path: p, line: k.Line, valueLine: v.Line})
		et := t
		if fields != nil {
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("document: unknown field %q%s at line %d", k.Value, in(path), k.Line)
			}
			et = ft
		} else {
			et = t.Elem()
		}
		if err := walk(v, et, p, keys); err != nil {
			return err
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func in(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func decodeJSON(b []byte, raw *rawDocument) error {
	root, err := jsonTree(b)
	if err != nil {
		return err
	}
	if isNull(root) {
		return errEmpty
	}
	var keys []keyPos
	if err := walk(root, reflect.TypeFor[rawDocument](), "", &keys); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(raw); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return fmt.Errorf("document: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		field := te.Field
		if strings.HasPrefix(field, "parameters.") {
			field, te = jsonParamError(b, te)
		}
		if field == "" {
			field = "top level"
		}
		return fmt.Errorf("document: %s: want %s, got %s", field, wantOf(te.Type), jsonGot(te.Value))
	}
	return nil
}

// jsonParamError finds which parameter a type error is in: encoding/json's Field leaves
// out map keys ("parameters.maxChars").
func jsonParamError(b []byte, te *json.UnmarshalTypeError) (string, *json.UnmarshalTypeError) {
	var doc struct {
		Parameters map[string]json.RawMessage `json:"parameters"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return te.Field, te
	}
	names := make([]string, 0, len(doc.Parameters))
	for name := range doc.Parameters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var p rawParameter
		var pe *json.UnmarshalTypeError
		if err := json.Unmarshal(doc.Parameters[name], &p); errors.As(err, &pe) {
			return join("parameters."+name, pe.Field), pe
		}
	}
	return te.Field, te
}

func jsonGot(v string) string {
	switch v {
	case "string", "number", "bool", "array", "object":
		return map[string]string{"string": "a string", "number": "a number", "bool": "a boolean",
			"array": "a list", "object": "a mapping"}[v]
	}
	if strings.HasPrefix(v, "number ") {
		return "a number"
	}
	return v
}

// jsonTree reads JSON into a yaml.Node tree (mappings, sequences, scalars with their
// lines), so that the key walk is the same for both formats; it also rejects content
// after the first value.
func jsonTree(b []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	lineAt := func(off int64) int { return 1 + bytes.Count(b[:min(int(off), len(b))], []byte("\n")) }
	var read func() (*yaml.Node, error)
	read = func() (*yaml.Node, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		line := lineAt(dec.InputOffset())
		switch v := tok.(type) {
		case json.Delim:
			n := &yaml.Node{Kind: yaml.SequenceNode, Line: line}
			if v == '{' {
				n.Kind = yaml.MappingNode
			}
			for dec.More() {
				if n.Kind == yaml.MappingNode {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					k, _ := kt.(string)
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k, Line: lineAt(dec.InputOffset())})
				}
				c, err := read()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, c)
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, err
			}
			return n, nil
		case nil:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line}, nil
		default:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v), Line: line}, nil
		}
	}
	root, err := read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("document: invalid JSON at line %d: %s", lineAt(se.Offset), strings.TrimPrefix(se.Error(), "json: "))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("document: invalid JSON: unexpected end of content")
		}
		return nil, fmt.Errorf("document: invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("document: content after the JSON document at line %d", lineAt(dec.InputOffset()))
	}
	return root, nil
}
