package document

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestBuiltins(t *testing.T) {
	var names []string
	for _, b := range Builtins() {
		names = append(names, b.Name)
		if _, err := Parse([]byte(b.Content), api.FormatYAML); err != nil {
			t.Errorf("%s: %v", b.Name, err)
		}
		if !Reserved(b.Name) || ValidName(b.Name) != nil {
			t.Errorf("%s: not a valid reserved name", b.Name)
		}
	}
	want := []string{api.DocPreferences, api.DocInteractiveCommand, api.DocNonInteractiveCommand,
		api.DocPortForwarding, api.DocPortForwardingRemoteHost, api.DocSSH}
	for _, w := range want {
		if _, ok := LookupBuiltin(w); !ok {
			t.Errorf("LookupBuiltin(%q) found nothing; have %v", w, names)
		}
	}
	if len(names) != len(want) {
		t.Errorf("got %d built-ins %v, want %d", len(names), names, len(want))
	}
	if _, ok := LookupBuiltin("AWS-StartSSHSession"); ok {
		t.Error("LookupBuiltin found an SSM name")
	}
}

func TestBuiltinsResolve(t *testing.T) {
	for _, tc := range []struct {
		doc    string
		params map[string][]string
		want   Invocation
		err    string
	}{
		{doc: api.DocPreferences, want: Invocation{SessionType: api.SessionTypeStandardStream, TTY: true, Parameters: map[string][]string{}}},
		{doc: api.DocInteractiveCommand, params: map[string][]string{"command": {"top"}}, want: Invocation{
			SessionType: api.SessionTypeInteractive, TTY: true, Argv: []string{Shell, "-c", `"${1}"`, ArgZero, "top"},
			Parameters: map[string][]string{"command": {"top"}}}},
		{doc: api.DocInteractiveCommand, err: "parameter command is required"},
		{doc: api.DocNonInteractiveCommand, params: map[string][]string{"command": {"tail -f /x"}}, want: Invocation{
			SessionType: api.SessionTypeNonInteractive, Argv: []string{Shell, "-c", `"${1}"`, ArgZero, "tail -f /x"},
			Parameters: map[string][]string{"command": {"tail -f /x"}}}},
		{doc: api.DocPortForwarding, want: Invocation{SessionType: api.SessionTypePort,
			Port:       &PortSpec{Type: PortForwardingLocal, PortNumber: "80", LocalPortNumber: "0"},
			Parameters: map[string][]string{"portNumber": {"80"}, "localPortNumber": {"0"}}}},
		{doc: api.DocPortForwarding, params: map[string][]string{"portNumber": {"0"}}, err: `parameter "portNumber": value "0" does not match`},
		{doc: api.DocPortForwarding, params: map[string][]string{"portNumber": {"65536"}}, err: "does not match"},
		{doc: api.DocPortForwardingRemoteHost, params: map[string][]string{"host": {"db.internal"}, "portNumber": {"5432"}, "localPortNumber": {"15432"}},
			want: Invocation{SessionType: api.SessionTypePort,
				Port:       &PortSpec{Type: PortForwardingLocal, PortNumber: "5432", LocalPortNumber: "15432", Host: "db.internal"},
				Parameters: map[string][]string{"host": {"db.internal"}, "portNumber": {"5432"}, "localPortNumber": {"15432"}}}},
		{doc: api.DocPortForwardingRemoteHost, params: map[string][]string{"host": {"fd00::1"}},
			want: Invocation{SessionType: api.SessionTypePort,
				Port:       &PortSpec{Type: PortForwardingLocal, PortNumber: "80", LocalPortNumber: "0", Host: "fd00::1"},
				Parameters: map[string][]string{"host": {"fd00::1"}, "portNumber": {"80"}, "localPortNumber": {"0"}}}},
		{doc: api.DocPortForwardingRemoteHost, err: "parameter host is required"},
		{doc: api.DocPortForwardingRemoteHost, params: map[string][]string{"host": {"-oProxyCommand=id"}}, err: "does not match"},
		{doc: api.DocPortForwardingRemoteHost, params: map[string][]string{"host": {"a..b"}}, err: `host: "a..b" is not a host name or IP address`},
		{doc: api.DocPortForwardingRemoteHost, params: map[string][]string{"host": {"a b"}}, err: "does not match"},
		{doc: api.DocSSH, want: Invocation{SessionType: api.SessionTypePort,
			Port:       &PortSpec{PortNumber: "22", Host: "localhost"},
			Parameters: map[string][]string{"portNumber": {"22"}}}},
	} {
		b, _ := LookupBuiltin(tc.doc)
		d, err := Parse([]byte(b.Content), "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Resolve(tc.params)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %v: got %v, want an error containing %q", tc.doc, tc.params, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %v: %v", tc.doc, tc.params, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %v:\ngot  %+v %+v\nwant %+v %+v", tc.doc, tc.params, got, got.Port, tc.want, tc.want.Port)
		}
	}
}
