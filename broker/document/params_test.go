package document

import (
	"reflect"
	"strings"
	"testing"
)

func paramDoc(t *testing.T, params, commands string) *Document {
	t.Helper()
	d, err := Parse([]byte("schemaVersion: '1.0'\nsessionType: NonInteractiveCommands\nparameters:\n"+params+
		"properties:\n  linux:\n    commands: "+commands+"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParamErrors(t *testing.T) {
	for _, tc := range []struct{ name, params, commands, want string }{
		{"bad name", "  my-param:\n    type: String\n", "x", `parameter name "my-param" is not valid`},
		{"long name", "  " + strings.Repeat("a", 65) + ":\n    type: String\n", "x", "is not valid"},
		{"null", "  p:\n", "x", "parameters.p: want a mapping"},
		{"no type", "  p:\n    description: x\n", "x", "parameters.p.type is required"},
		{"StringMap", "  p:\n    type: StringMap\n", "x", "parameters.p.type: StringMap parameters are not supported by Tether"},
		{"MapList", "  p:\n    type: MapList\n", "x", "MapList parameters are not supported"},
		{"unknown type", "  p:\n    type: Float\n", "x", `unknown type "Float"`},
		{"lookahead", "  p:\n    type: String\n    allowedPattern: '^(?!root)$'\n", "x", "does not compile as a Go (RE2) regular expression"},
		{"maxChars 0", "  p:\n    type: String\n    maxChars: 0\n", "x", "parameters.p.maxChars: 0 is out of range (1-16384)"},
		{"maxChars huge", "  p:\n    type: String\n    maxChars: 16385\n", "x", "out of range (1-16384)"},
		{"minChars over max", "  p:\n    type: String\n    maxChars: 4\n    minChars: 5\n", "x", "parameters.p.minChars: 5 is out of range"},
		{"maxItems on String", "  p:\n    type: String\n    maxItems: 2\n", "x", "minItems and maxItems are only for StringList"},
		{"maxItems huge", "  p:\n    type: StringList\n    maxItems: 1000\n", "x", "parameters.p.maxItems: 1000 is out of range (1-256)"},
		{"default list for String", "  p:\n    type: String\n    default: [a]\n", "x", "parameters.p.default: want one value for a String parameter"},
		{"default bad pattern", "  p:\n    type: String\n    allowedPattern: '^[a-z]+$'\n    default: ABC\n", "x", `parameters.p.default: parameter "p": value "ABC" does not match`},
		{"default not allowed", "  p:\n    type: String\n    allowedValues: [a, b]\n    default: c\n", "x", "is not one of the allowed values: a, b"},
		{"default too long", "  p:\n    type: String\n    maxChars: 2\n    default: abc\n", "x", "is 3 characters, over the limit of 2"},
		{"default not int", "  p:\n    type: Integer\n    default: ten\n", "x", `value "ten" is not an integer`},
		{"default not bool", "  p:\n    type: Boolean\n    default: yes\n", "x", `value "yes" is not true or false`},
		{"default control", "  p:\n    type: String\n    default: \"a\\x1bb\"\n", "x", "holds control character U+001B"},
		{"allowed value not int", "  p:\n    type: Integer\n    allowedValues: [1, x]\n", "x", "parameters.p.allowedValues: parameter \"p\": value \"x\" is not an integer"},
		{"list default items", "  p:\n    type: StringList\n    maxItems: 1\n    default: [a, b]\n", "x", "takes 1 to 1 values, got 2"},
		{"undeclared placeholder", "  p:\n    type: String\n", "'echo {{ q }}'", "properties.linux.commands: placeholder {{ q }} names no declared parameter (declared: p)"},
		{"ssm reference", "  p:\n    type: String\n", "'echo {{ssm:/my/param}}'", "{{ ssm:/my/param }}: parameter store references are not supported by Tether"},
		{"ssm-secure reference", "  p:\n    type: String\n", "'echo {{ ssm-secure:pw }}'", "parameter store references are not supported"},
		{"bad placeholder", "  p:\n    type: String\n", "'echo {{ a b }}'", `"{{ a b }}" is not a valid placeholder`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("schemaVersion: '1.0'\nsessionType: NonInteractiveCommands\nparameters:\n"+tc.params+
				"properties:\n  linux:\n    commands: "+tc.commands+"\n"), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestResolveParams(t *testing.T) {
	d := paramDoc(t, `  name:
    type: String
    allowedPattern: '^[a-z]+$'
    maxChars: 8
  count:
    type: Integer
    default: 3
  verbose:
    type: Boolean
    default: false
  color:
    type: String
    allowedValues: [red, green]
    default: red
  files:
    type: StringList
    minItems: 1
    maxItems: 3
    default: [x]
`, `'echo {{ name }} {{ count }} {{ verbose }} {{ color }} {{ files }}'`)
	for _, tc := range []struct {
		name   string
		params map[string][]string
		want   map[string][]string
		err    string
	}{
		{"defaults", map[string][]string{"name": {"bob"}},
			map[string][]string{"name": {"bob"}, "count": {"3"}, "verbose": {"false"}, "color": {"red"}, "files": {"x"}}, ""},
		{"all", map[string][]string{"name": {"al"}, "count": {"-9"}, "verbose": {"true"}, "color": {"green"}, "files": {"a", "b", "c"}},
			map[string][]string{"name": {"al"}, "count": {"-9"}, "verbose": {"true"}, "color": {"green"}, "files": {"a", "b", "c"}}, ""},
		{"required", nil, nil, "parameter name is required"},
		{"unknown", map[string][]string{"name": {"a"}, "nmae": {"b"}}, nil, `parameter "nmae" is not declared by the document; it declares color, count, files, name, verbose`},
		{"two values", map[string][]string{"name": {"a", "b"}}, nil, `parameter "name" takes exactly one value, got 2`},
		{"no value", map[string][]string{"name": {}}, nil, `parameter "name" takes exactly one value, got 0`},
		{"too many items", map[string][]string{"name": {"a"}, "files": {"1", "2", "3", "4"}}, nil, `parameter "files" takes 1 to 3 values, got 4`},
		{"no items", map[string][]string{"name": {"a"}, "files": {}}, nil, `takes 1 to 3 values, got 0`},
		{"pattern", map[string][]string{"name": {"Bob"}}, nil, `parameter "name": value "Bob" does not match the allowed pattern ^[a-z]+$`},
		{"too long", map[string][]string{"name": {"abcdefghi"}}, nil, `value "abcdefghi" is 9 characters, over the limit of 8`},
		{"runes not bytes", map[string][]string{"name": {"a"}, "color": {"red"}, "files": {"ééééééé"}}, map[string][]string{"name": {"a"}, "count": {"3"}, "verbose": {"false"}, "color": {"red"}, "files": {"ééééééé"}}, ""},
		{"integer", map[string][]string{"name": {"a"}, "count": {"1e3"}}, nil, `value "1e3" is not an integer`},
		{"integer overflow", map[string][]string{"name": {"a"}, "count": {"9223372036854775808"}}, nil, "is not an integer"},
		{"boolean", map[string][]string{"name": {"a"}, "verbose": {"TRUE"}}, nil, `value "TRUE" is not true or false`},
		{"allowed", map[string][]string{"name": {"a"}, "color": {"blue"}}, nil, `value "blue" is not one of the allowed values: red, green`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := d.Resolve(tc.params)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(inv.Parameters, tc.want) {
				t.Errorf("got %v, want %v", inv.Parameters, tc.want)
			}
		})
	}
}

func TestResolveValueLimits(t *testing.T) {
	d := paramDoc(t, "  p:\n    type: String\n  l:\n    type: StringList\n    default: [a]\n", `'echo {{ p }} {{ l }}'`)
	long := strings.Repeat("A", DefaultMaxChars+1)
	_, err := d.Resolve(map[string][]string{"p": {long}})
	if err == nil || !strings.Contains(err.Error(), "is 4097 characters, over the limit of 4096") {
		t.Errorf("over-long value: got %v", err)
	}
	if err != nil && len(err.Error()) > 200 {
		t.Errorf("error echoes too much of the value: %d bytes", len(err.Error()))
	}
	items := make([]string, 40)
	for i := range items {
		items[i] = strings.Repeat("x", 4000)
	}
	if _, err := d.Resolve(map[string][]string{"p": {"a"}, "l": items}); err == nil || !strings.Contains(err.Error(), "over the limit of 131072") {
		t.Errorf("too much altogether: got %v", err)
	}
	// The caller's slices are not shared with the result.
	given := map[string][]string{"p": {"a"}, "l": {"b"}}
	inv, err := d.Resolve(given)
	if err != nil {
		t.Fatal(err)
	}
	given["l"][0] = "changed"
	if inv.Parameters["l"][0] != "b" {
		t.Error("Invocation.Parameters shares the caller's slices")
	}
}
