package document

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The field types below accept what SSM documents write in the wild: booleans as bools
// or strings, numbers as numbers or strings. Their errors start with "line N: " (YAML)
// or are *json.UnmarshalTypeError (JSON) so that decode can name the field.

// flexBool is a bool written as true/false or as the string "true"/"false".
type flexBool struct {
	set bool
	v   bool
}

// flexInt is an integer written as a number or as a string of digits ('20'); an empty
// string or null leaves it unset.
type flexInt struct {
	set bool
	v   int64
}

// scalar is any scalar (string, number, bool) kept as its text.
type scalar struct {
	set bool
	v   string
}

// paramValue is a parameter default or value: a scalar, or a list of scalars.
type paramValue struct {
	list bool
	v    []string
}

// commands is SSM's properties.<os>.commands: a string, or a list of lines.
type commands struct {
	set bool
	v   string
}

// friendly names the value a field type wants, for error messages.
var friendly = map[reflect.Type]string{
	reflect.TypeFor[flexBool]():   "true or false",
	reflect.TypeFor[flexInt]():    "a whole number",
	reflect.TypeFor[scalar]():     "a string",
	reflect.TypeFor[paramValue](): "a value or a list of values",
	reflect.TypeFor[commands]():   "a string or a list of strings",
	reflect.TypeFor[string]():     "a string",
}

func wantOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := friendly[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

// nodeKind describes a YAML node for "got ..." in errors.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int", "!!float":
		return "a number"
	}
	return "a string"
}

func yamlWant(n *yaml.Node, t reflect.Type) error {
	return fmt.Errorf("line %d: want %s, got %s", n.Line, wantOf(t), nodeKind(n))
}

// yamlScalar returns a scalar node's text; YAML booleans are normalised to true/false.
func yamlScalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch n.ShortTag() {
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return "", false
		}
		return strconv.FormatBool(b), true
	case "!!str", "!!int", "!!float":
		return n.Value, true
	}
	return "", false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func parseBoolText(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func (b *flexBool) UnmarshalYAML(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	s, ok := yamlScalar(n)
	if !ok {
		return yamlWant(n, reflect.TypeFor[flexBool]())
	}
	return b.setText(s, func() error { return fmt.Errorf("line %d: want true or false, got %.64q", n.Line, s) })
}

func (b *flexBool) setText(s string, bad func() error) error {
	if s == "" {
		return nil
	}
	v, ok := parseBoolText(s)
	if !ok {
		return bad()
	}
	*b = flexBool{set: true, v: v}
	return nil
}

func (i *flexInt) UnmarshalYAML(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	s, ok := yamlScalar(n)
	if !ok || n.ShortTag() == "!!bool" {
		return yamlWant(n, reflect.TypeFor[flexInt]())
	}
	return i.setText(s, func() error { return fmt.Errorf("line %d: want a whole number, got %.64q", n.Line, s) })
}

func (i *flexInt) setText(s string, bad func() error) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return bad()
	}
	*i = flexInt{set: true, v: v}
	return nil
}

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	v, ok := yamlScalar(n)
	if !ok {
		return yamlWant(n, reflect.TypeFor[scalar]())
	}
	*s = scalar{set: true, v: v}
	return nil
}

func (p *paramValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		p.list, p.v = true, []string{}
		for _, c := range n.Content {
			v, ok := yamlScalar(c)
			if !ok {
				return fmt.Errorf("line %d: want a list of values, got %s in the list", c.Line, nodeKind(c))
			}
			p.v = append(p.v, v)
		}
		return nil
	}
	v, ok := yamlScalar(n)
	if !ok {
		return yamlWant(n, reflect.TypeFor[paramValue]())
	}
	p.v = []string{v}
	return nil
}

func (c *commands) UnmarshalYAML(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		lines := make([]string, 0, len(n.Content))
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode || isNull(e) {
				return fmt.Errorf("line %d: want a list of strings, got %s in the list", e.Line, nodeKind(e))
			}
			lines = append(lines, e.Value)
		}
		*c = commands{set: true, v: strings.Join(lines, "\n")}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return yamlWant(n, reflect.TypeFor[commands]())
	}
	*c = commands{set: true, v: n.Value}
	return nil
}

// JSON.

func jsonWant(t reflect.Type, got string) error {
	return &json.UnmarshalTypeError{Value: got, Type: t}
}

// jsonKind describes a JSON value for "got ..." in errors.
func jsonKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '"':
		return "a string"
	case b[0] == '[':
		return "a list"
	case b[0] == '{':
		return "a mapping"
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		return "a boolean"
	case bytes.Equal(b, []byte("null")):
		return "null"
	}
	return "a number"
}

// jsonScalar returns the text of a JSON string, number or bool.
func jsonScalar(b []byte) (string, bool) {
	switch jsonKind(b) {
	case "a string":
		var s string
		if json.Unmarshal(b, &s) != nil {
			return "", false
		}
		return s, true
	case "a boolean", "a number":
		return string(b), true
	}
	return "", false
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	t := reflect.TypeFor[flexBool]()
	if string(data) == "null" {
		return nil
	}
	s, ok := jsonScalar(data)
	if !ok || jsonKind(data) == "a number" {
		return jsonWant(t, jsonKind(data))
	}
	return b.setText(s, func() error { return jsonWant(t, fmt.Sprintf("%.64q", s)) })
}

func (i *flexInt) UnmarshalJSON(data []byte) error {
	t := reflect.TypeFor[flexInt]()
	if string(data) == "null" {
		return nil
	}
	s, ok := jsonScalar(data)
	if !ok || jsonKind(data) == "a boolean" {
		return jsonWant(t, jsonKind(data))
	}
	return i.setText(s, func() error { return jsonWant(t, fmt.Sprintf("%.64q", s)) })
}

func (s *scalar) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	v, ok := jsonScalar(data)
	if !ok {
		return jsonWant(reflect.TypeFor[scalar](), jsonKind(data))
	}
	*s = scalar{set: true, v: v}
	return nil
}

func (p *paramValue) UnmarshalJSON(data []byte) error {
	t := reflect.TypeFor[paramValue]()
	if jsonKind(data) == "a list" {
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return err
		}
		p.list, p.v = true, []string{}
		for _, it := range items {
			v, ok := jsonScalar(it)
			if !ok {
				return jsonWant(t, jsonKind(it)+" in the list")
			}
			p.v = append(p.v, v)
		}
		return nil
	}
	v, ok := jsonScalar(data)
	if !ok {
		return jsonWant(t, jsonKind(data))
	}
	p.v = []string{v}
	return nil
}

func (c *commands) UnmarshalJSON(data []byte) error {
	t := reflect.TypeFor[commands]()
	switch jsonKind(data) {
	case "null":
		return nil
	case "a string":
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*c = commands{set: true, v: s}
		return nil
	case "a list":
		var lines []string
		if err := json.Unmarshal(data, &lines); err != nil {
			return jsonWant(t, "a list holding something other than strings")
		}
		*c = commands{set: true, v: strings.Join(lines, "\n")}
		return nil
	}
	return jsonWant(t, jsonKind(data))
}
