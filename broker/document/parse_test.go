package document

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

// SSM's own example documents, verbatim (from the Session Manager user guide and the
// SSM-SessionManagerRunShell default).
const (
	ssmInteractiveExample = `---
schemaVersion: '1.0'
description: Document to view a log file on a Linux instance
sessionType: InteractiveCommands
parameters:
  logpath:
    type: String
    description: The log file path to read.
    default: "/var/log/amazon/ssm/amazon-ssm-agent.log"
    allowedPattern: "^[a-zA-Z0-9-_/]+(.log)$"
properties:
  linux:
    commands: "tail -f {{ logpath }}"
    runAsElevated: true
`
	ssmPreferencesExample = `{
  "schemaVersion": "1.0",
  "description": "Document to hold regional settings for Session Manager",
  "sessionType": "Standard_Stream",
  "inputs": {
    "s3BucketName": "",
    "s3KeyPrefix": "",
    "s3EncryptionEnabled": true,
    "cloudWatchLogGroupName": "",
    "cloudWatchEncryptionEnabled": true,
    "cloudWatchStreamingEnabled": false,
    "kmsKeyId": "",
    "runAsEnabled": false,
    "runAsDefaultUser": "",
    "idleSessionTimeout": "",
    "maxSessionDuration": "",
    "shellProfile": {
      "windows": "date",
      "linux": "pwd;ls;pwd"
    }
  }
}`
	ssmPreferencesYAML = `schemaVersion: '1.0'
description: Document to hold regional settings for Session Manager
sessionType: Standard_Stream
inputs:
  s3BucketName: 'my-session-logs'
  s3KeyPrefix: 'sessions/'
  s3EncryptionEnabled: true
  cloudWatchLogGroupName: ''
  cloudWatchEncryptionEnabled: true
  cloudWatchStreamingEnabled: true
  kmsKeyId: ''
  runAsEnabled: true
  runAsDefaultUser: 'ssm-user'
  idleSessionTimeout: '15'
  maxSessionDuration: '60'
  shellProfile:
    windows: ''
    linux: 'cd ~ && bash'
`
	ssmPortExample = `{
  "schemaVersion": "1.0",
  "description": "Document to start port forwarding session over Session Manager",
  "sessionType": "Port",
  "parameters": {
    "portNumber": {
      "type": "String",
      "description": "(Optional) Port number of the server on the instance",
      "allowedPattern": "^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$",
      "default": "80"
    },
    "localPortNumber": {
      "type": "String",
      "description": "(Optional) Port number on local machine to forward traffic to. An open port is chosen at run-time if not provided",
      "allowedPattern": "^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$",
      "default": "0"
    }
  },
  "properties": {
    "portNumber": "{{ portNumber }}",
    "type": "LocalPortForwarding",
    "localPortNumber": "{{ localPortNumber }}"
  }
}`
	ssmStartInteractiveCommand = `{
  "schemaVersion": "1.0",
  "description": "Document to run single interactive command on an instance",
  "sessionType": "InteractiveCommands",
  "parameters": {
    "command": {
      "type": "String",
      "description": "The command to run."
    }
  },
  "properties": {
    "windows": {
      "commands": "{{command}}",
      "runAsElevated": false
    },
    "linux": {
      "commands": "{{command}}",
      "runAsElevated": false
    },
    "macos": {
      "commands": "{{command}}",
      "runAsElevated": false
    }
  }
}`
)

func TestSSMExamples(t *testing.T) {
	d, err := Parse([]byte(ssmInteractiveExample), api.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := d.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Invocation{
		SessionType:   api.SessionTypeInteractive,
		TTY:           true,
		Argv:          []string{Shell, "-c", `tail -f "${1}"`, ArgZero, "/var/log/amazon/ssm/amazon-ssm-agent.log"},
		RunAsElevated: true,
		Parameters:    map[string][]string{"logpath": {"/var/log/amazon/ssm/amazon-ssm-agent.log"}},
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("interactive example:\ngot  %+v\nwant %+v", inv, want)
	}
	if _, err := d.Resolve(map[string][]string{"logpath": {"/etc/shadow"}}); err == nil || !strings.Contains(err.Error(), "allowed pattern") {
		t.Errorf("logpath /etc/shadow: got %v, want a pattern error", err)
	}

	for _, tc := range []struct {
		name, content, format string
		want                  api.Preferences
	}{
		{"default JSON", ssmPreferencesExample, api.FormatJSON, api.Preferences{
			IdleSessionTimeout: 20, S3EncryptionEnabled: true, ShellProfileLinux: "pwd;ls;pwd"}},
		{"YAML", ssmPreferencesYAML, api.FormatYAML, api.Preferences{
			IdleSessionTimeout: 15, MaxSessionDuration: 60, RunAsEnabled: true, RunAsDefaultUser: "ssm-user",
			ShellProfileLinux: "cd ~ && bash", S3BucketName: "my-session-logs", S3KeyPrefix: "sessions/", S3EncryptionEnabled: true}},
	} {
		d, err := Parse([]byte(tc.content), tc.format)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := d.Preferences(); got != tc.want {
			t.Errorf("%s: preferences:\ngot  %+v\nwant %+v", tc.name, got, tc.want)
		}
	}

	d, err = Parse([]byte(ssmPortExample), api.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	inv, err = d.Resolve(map[string][]string{"portNumber": {"5432"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *inv.Port, (PortSpec{Type: PortForwardingLocal, PortNumber: "5432", LocalPortNumber: "0"}); got != want {
		t.Errorf("port example: got %+v, want %+v", got, want)
	}

	d, err = Parse([]byte(ssmStartInteractiveCommand), api.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	inv, err = d.Resolve(map[string][]string{"command": {"top"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inv.Argv, []string{Shell, "-c", `"${1}"`, ArgZero, "top"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AWS-StartInteractiveCommand: got %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "schemaVersion: '1.0'\nsessionType: Standard_Stream\n"
	const cmd = "schemaVersion: '1.0'\nsessionType: InteractiveCommands\n"
	for _, tc := range []struct {
		name, content, format, want string
	}{
		{"empty", "", "", "content is empty"},
		{"blank", "  \n\t\n", "", "content is empty"},
		{"comments only", "# nothing\n", "", "content is empty"},
		{"too big", head + "description: " + strings.Repeat("x", MaxSize) + "\n", "", "over the 64 KiB limit"},
		{"invalid UTF-8", head + "description: \xff\n", "", "not valid UTF-8"},
		{"unknown format", head, "XML", `unknown format "XML"`},
		{"unknown top field", "schemaVersion: '1.0'\ndescription: x\nsesionType: Standard_Stream\n", "", `unknown field "sesionType" at line 3`},
		{"unknown inputs field", head + "inputs:\n  s3Bucket: x\n", "", `unknown field "s3Bucket" in inputs at line 4`},
		{"unknown shellProfile field", head + "inputs:\n  shellProfile:\n    bsd: x\n", "", `unknown field "bsd" in inputs.shellProfile at line 5`},
		{"unknown parameter field", cmd + "parameters:\n  p:\n    type: String\n    minLength: 1\n", "", `unknown field "minLength" in parameters.p at line 6`},
		{"unknown platform field", cmd + "properties:\n  linux:\n    command: x\n", "", `unknown field "command" in properties.linux at line 5`},
		{"unknown JSON field", `{"schemaVersion": "1.0", "sessionType": "Port", "properties": {"portNumber": "1", "hots": "x"}}`, "JSON", `unknown field "hots" in properties at line 1`},
		{"JSON field case", `{"schemaVersion": "1.0", "SessionType": "Port"}`, "JSON", `unknown field "SessionType" at line 1`},
		{"duplicate key", head + "description: a\ndescription: b\n", "", `duplicate key "description" at line 4 (first at line 3)`},
		{"duplicate nested key", head + "inputs:\n  kmsKeyId: ''\n  kmsKeyId: ''\n", "", `duplicate key "kmsKeyId" in inputs at line 5`},
		{"duplicate JSON key", "{\"schemaVersion\": \"1.0\",\n\"schemaVersion\": \"1.0\"}", "JSON", `duplicate key "schemaVersion" at line 2`},
		{"two YAML documents", head + "---\n" + head, "", "more than one YAML document"},
		{"trailing JSON", `{"schemaVersion": "1.0"} {}`, "JSON", "content after the JSON document"},
		{"bad YAML", head + "inputs: [\n", "", "document: "},
		{"bad JSON", "{\"schemaVersion\": \n}", "JSON", "invalid JSON at line 2"},
		{"top-level list", "- a\n", "", "want a mapping"},
		{"no schemaVersion", "sessionType: Port\n", "", "schemaVersion is required"},
		{"schemaVersion 2.2", "schemaVersion: '2.2'\nsessionType: Port\n", "", `schemaVersion "2.2" is not supported`},
		{"no sessionType", "schemaVersion: '1.0'\n", "", "sessionType is required"},
		{"bad sessionType", "schemaVersion: '1.0'\nsessionType: Command\n", "", `sessionType "Command" is not one of`},
		{"wrong type string", head + "description: [a]\n", "", "description: want a string, got a list (line 3)"},
		{"wrong type bool", head + "inputs:\n  runAsEnabled: maybe\n", "", `inputs.runAsEnabled: want true or false, got "maybe" (line 4)`},
		{"wrong type int", head + "inputs:\n  idleSessionTimeout: 1.5\n", "", `inputs.idleSessionTimeout: want a whole number, got "1.5" (line 4)`},
		{"wrong type mapping", head + "inputs: 3\n", "", "inputs: want a mapping, got a number (line 3)"},
		{"JSON wrong type", `{"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {"runAsEnabled": 1}}`, "JSON", "inputs.runAsEnabled: want true or false, got a number"},
		{"JSON wrong type string", `{"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {"s3BucketName": 1}}`, "JSON", "inputs.s3BucketName: want a string, got a number"},
		{"JSON parameter wrong type", `{"schemaVersion": "1.0", "sessionType": "InteractiveCommands", "parameters": {"a": {"type": "String"}, "b": {"type": "String", "maxChars": "x"}}}`, "JSON", `parameters.b.maxChars: want a whole number, got "x"`},
		{"JSON parameter wrong type 2", `{"schemaVersion": "1.0", "sessionType": "InteractiveCommands", "parameters": {"a": {"type": 5}}}`, "JSON", `parameters.a.type: want a string, got a number`},
		{"inputs on a command doc", cmd + "inputs: {}\n", "", "inputs are only for Standard_Stream documents"},
		{"parameters on Standard_Stream", head + "parameters:\n  p:\n    type: String\n", "", "parameters are not allowed in a Standard_Stream document (found p)"},
		{"properties on Standard_Stream", head + "properties: {}\n", "", "properties are not allowed"},
		{"no commands", cmd + "properties:\n  windows:\n    commands: dir\n", "", "properties.linux.commands is required"},
		{"no properties", cmd, "", "properties.linux.commands is required"},
		{"port field on command doc", cmd + "properties:\n  portNumber: '22'\n  linux:\n    commands: x\n", "", "properties.portNumber is only for Port documents"},
		{"port doc without portNumber", "schemaVersion: '1.0'\nsessionType: Port\nproperties:\n  host: x\n", "", "properties.portNumber is required"},
		{"port doc with commands", "schemaVersion: '1.0'\nsessionType: Port\nproperties:\n  portNumber: '22'\n  linux:\n    commands: x\n", "", "properties.linux is not allowed in a Port document"},
		{"port type", "schemaVersion: '1.0'\nsessionType: Port\nproperties:\n  portNumber: '22'\n  type: RemotePortForwarding\n", "", `properties.type "RemotePortForwarding" is not supported`},
		{"literal port out of range", "schemaVersion: '1.0'\nsessionType: Port\nproperties:\n  portNumber: '70000'\n", "", `properties.portNumber "70000" is not a port number`},
		{"literal bad host", "schemaVersion: '1.0'\nsessionType: Port\nproperties:\n  portNumber: 22\n  host: -oProxyCommand=x\n", "", "properties.host: \"-oProxyCommand=x\" is not a host name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.content), tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "document: ") {
				t.Errorf("error %q does not start with \"document: \"", err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	d, err := Parse([]byte(`schemaVersion: '1.0'
description: Tail logs
sessionType: NonInteractiveCommands
parameters:
  files:
    type: StringList
    default: [a.log, b.log]
  lines:
    type: Integer
    description: How many
    default: 10
    allowedValues: [10, 100]
properties:
  linux:
    commands:
      - set -e
      - tail -n {{ lines }} {{ files }}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	st, desc, params := d.Describe()
	want := []api.DocumentParameter{
		{Name: "files", Type: TypeStringList, Default: "a.log,b.log"},
		{Name: "lines", Type: TypeInteger, Description: "How many", Default: "10", AllowedValues: []string{"10", "100"}},
	}
	if st != api.SessionTypeNonInteractive || desc != "Tail logs" || !reflect.DeepEqual(params, want) {
		t.Errorf("got %q %q %+v, want %q %q %+v", st, desc, params, api.SessionTypeNonInteractive, "Tail logs", want)
	}
	inv, err := d.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := []string{Shell, "-c", "set -e\ntail -n \"${1}\" \"${2}\" \"${3}\"", ArgZero, "10", "a.log", "b.log"}
	if !reflect.DeepEqual(inv.Argv, wantArgv) || inv.TTY {
		t.Errorf("got argv %q tty %v, want %q false", inv.Argv, inv.TTY, wantArgv)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name            string
		valid, reserved bool
	}{
		{"MyDoc", true, false},
		{"my_doc-1.2", true, false},
		{"ab", false, false},
		{strings.Repeat("a", 128), true, false},
		{strings.Repeat("a", 129), false, false},
		{"has space", false, false},
		{"Tether-Mine", true, true},
		{"tether-mine", true, true},
		{"AWS-StartSSHSession", true, true},
		{"ssm-x", true, true},
		{"Tethered", true, false},
	} {
		if got := ValidName(tc.name) == nil; got != tc.valid {
			t.Errorf("ValidName(%q) ok = %v, want %v", tc.name, got, tc.valid)
		}
		if got := Reserved(tc.name); got != tc.reserved {
			t.Errorf("Reserved(%q) = %v, want %v", tc.name, got, tc.reserved)
		}
	}
}
