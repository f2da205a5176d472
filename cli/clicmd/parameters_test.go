package clicmd

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseParameters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		want  map[string][]string
	}{
		{"none", nil, nil},
		{"json lists", []string{`{"portNumber":["80"],"localPortNumber":["9999"]}`},
			map[string][]string{"portNumber": {"80"}, "localPortNumber": {"9999"}}},
		{"json strings", []string{` {"command":"top -d 1","n":["a","b"]}`},
			map[string][]string{"command": {"top -d 1"}, "n": {"a", "b"}}},
		{"json empty list", []string{`{"flags":[]}`}, map[string][]string{"flags": {}}},
		{"json comma in value", []string{`{"flags":["--now,--quiet"]}`}, map[string][]string{"flags": {"--now,--quiet"}}},
		{"shorthand", []string{"portNumber=80"}, map[string][]string{"portNumber": {"80"}}},
		{"shorthand commas", []string{"portNumber=80,localPortNumber=9999"},
			map[string][]string{"portNumber": {"80"}, "localPortNumber": {"9999"}}},
		{"shorthand keeps = in values", []string{"command=env A=1 B=2, x = y"},
			map[string][]string{"command": {"env A=1 B=2"}, "x": {" y"}}},
		{"shorthand empty value", []string{"reason="}, map[string][]string{"reason": {""}}},
		{"repeated", []string{"host=a", "host=b,port=22", `{"host":["c"]}`},
			map[string][]string{"host": {"a", "b", "c"}, "port": {"22"}}},
	} {
		got, err := parseParameters(tc.flags)
		if err != nil {
			t.Errorf("%s: %q: %v", tc.name, tc.flags, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q = %#v, want %#v", tc.name, tc.flags, got, tc.want)
		}
	}
}

func TestParseParametersErrors(t *testing.T) {
	for _, tc := range []struct {
		flag string
		want string
	}{
		{`{"portNumber":["80"]`, `--parameters {"portNumber":["80"]: invalid JSON: unexpected end of JSON input`},
		{`{"portNumber":[80]}`, `parameter "portNumber": want a list of strings like ["80"], got [80]`},
		{`{"portNumber":80}`, `parameter "portNumber": want a list of strings like ["80"], got 80`},
		{`{"portNumber":null}`, `parameter "portNumber": want a list of strings, got null`},
		{`{"a":"b"} trailing`, `invalid JSON`},
		{`{"":["x"]}`, `empty parameter name`},
		{"portNumber", `"portNumber" is not NAME=VALUE (a value with a comma needs the JSON form`},
		{"a=1,2", `"2" is not NAME=VALUE`},
		{"=1", `--parameters "=1": empty parameter name`},
		{"", "--parameters: empty value"},
	} {
		_, err := parseParameters([]string{tc.flag})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.flag, err, tc.want)
		}
	}
}
