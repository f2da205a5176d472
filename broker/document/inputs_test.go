package document

import (
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestInputs(t *testing.T) {
	const head = "schemaVersion: '1.0'\nsessionType: Standard_Stream\ninputs:\n"
	for _, tc := range []struct {
		name, inputs string
		want         api.Preferences
		record       bool
	}{
		{"none", "  {}\n", api.Preferences{IdleSessionTimeout: 20}, false},
		{"idle as string", "  idleSessionTimeout: '5'\n", api.Preferences{IdleSessionTimeout: 5}, false},
		{"idle as int", "  idleSessionTimeout: 60\n", api.Preferences{IdleSessionTimeout: 60}, false},
		{"idle empty", "  idleSessionTimeout: ''\n", api.Preferences{IdleSessionTimeout: 20}, false},
		{"max as string", "  maxSessionDuration: '1440'\n", api.Preferences{IdleSessionTimeout: 20, MaxSessionDuration: 1440}, false},
		{"max as int", "  maxSessionDuration: 1\n", api.Preferences{IdleSessionTimeout: 20, MaxSessionDuration: 1}, false},
		{"bools as strings", "  s3EncryptionEnabled: 'true'\n  runAsEnabled: \"false\"\n", api.Preferences{IdleSessionTimeout: 20, S3EncryptionEnabled: true}, false},
		{"run as", "  runAsEnabled: true\n  runAsDefaultUser: Deploy_user.1-x\n", api.Preferences{IdleSessionTimeout: 20, RunAsEnabled: true, RunAsDefaultUser: "Deploy_user.1-x"}, false},
		{"s3", "  s3BucketName: my.bucket-1\n  s3KeyPrefix: a/b\n", api.Preferences{IdleSessionTimeout: 20, S3BucketName: "my.bucket-1", S3KeyPrefix: "a/b"}, false},
		{"shell profile", "  shellProfile:\n    linux: |\n      cd /srv\n      exec bash\n    windows: cd C:\\\n", api.Preferences{IdleSessionTimeout: 20, ShellProfileLinux: "cd /srv\nexec bash\n"}, false},
		{"retention and record", "  transcriptRetentionDays: '30'\n  recordInput: true\n", api.Preferences{IdleSessionTimeout: 20, TranscriptRetentionDays: 30, RecordInput: true}, true},
		{"streaming", "  streamingEnabled: 'true'\n", api.Preferences{IdleSessionTimeout: 20, StreamingEnabled: true}, false},
		{"blank unsupported", "  cloudWatchLogGroupName: ''\n  kmsKeyId: ''\n  cloudWatchEncryptionEnabled: true\n  cloudWatchStreamingEnabled: true\n", api.Preferences{IdleSessionTimeout: 20}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(head+tc.inputs), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Preferences(); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got := d.RecordInput(); got != tc.record {
				t.Errorf("RecordInput() = %v, want %v", got, tc.record)
			}
			inv, err := d.Resolve(nil)
			if err != nil || !inv.TTY || inv.Argv != nil || inv.SessionType != api.SessionTypeStandardStream {
				t.Errorf("Resolve: got %+v, %v; want a TTY login shell", inv, err)
			}
		})
	}
}

func TestInputsErrors(t *testing.T) {
	const head = "schemaVersion: '1.0'\nsessionType: Standard_Stream\ninputs:\n"
	for _, tc := range []struct{ name, inputs, want string }{
		{"cloudwatch", "  cloudWatchLogGroupName: /aws/ssm\n", "inputs.cloudWatchLogGroupName: CloudWatch Logs is not supported by Tether; recordings are kept in JetStream and shipped with s3BucketName"},
		{"kms", "  kmsKeyId: arn:aws:kms:x\n", "inputs.kmsKeyId: KMS encryption of session data is not supported by Tether"},
		{"idle zero", "  idleSessionTimeout: 0\n", "inputs.idleSessionTimeout: 0 minutes is out of range (1-60)"},
		{"idle 61", "  idleSessionTimeout: '61'\n", "inputs.idleSessionTimeout: 61 minutes is out of range (1-60)"},
		{"idle text", "  idleSessionTimeout: twenty\n", `inputs.idleSessionTimeout: want a whole number, got "twenty"`},
		{"max 1441", "  maxSessionDuration: 1441\n", "inputs.maxSessionDuration: 1441 minutes is out of range (1-1440)"},
		{"max negative", "  maxSessionDuration: '-5'\n", "out of range (1-1440)"},
		{"retention", "  transcriptRetentionDays: 3651\n", "inputs.transcriptRetentionDays: 3651 days is out of range (1-3650)"},
		{"run as no user", "  runAsEnabled: true\n", "inputs.runAsDefaultUser is required when runAsEnabled is true"},
		{"run as bad user", "  runAsEnabled: true\n  runAsDefaultUser: 'root; id'\n", `inputs.runAsDefaultUser: "root; id" is not a valid user name`},
		{"run as long user", "  runAsDefaultUser: " + strings.Repeat("a", 33) + "\n", "is not a valid user name"},
		{"run as leading digit", "  runAsDefaultUser: 1abc\n", "is not a valid user name"},
		{"bucket upper", "  s3BucketName: MyBucket\n", "inputs.s3BucketName: \"MyBucket\" is not a valid S3 bucket name"},
		{"bucket short", "  s3BucketName: ab\n", "not a valid S3 bucket name"},
		{"bucket dots", "  s3BucketName: a..b\n", "adjacent dots"},
		{"bucket ip", "  s3BucketName: 192.168.1.1\n", "formatted as an IP address"},
		{"bucket alias", "  s3BucketName: abc-s3alias\n", "reserved prefix or suffix"},
		{"profile too long", "  shellProfile:\n    linux: " + strings.Repeat("x", 4097) + "\n", "inputs.shellProfile.linux is 4097 bytes, over 4096"},
		{"profile control", "  shellProfile:\n    linux: \"a\\u001b[2J\"\n", "inputs.shellProfile.linux holds a control character"},
		{"bool list", "  recordInput: [true]\n", "inputs.recordInput: want true or false, got a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.inputs), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPreferencesOfOtherTypes(t *testing.T) {
	b, _ := LookupBuiltin(api.DocSSH)
	d, err := Parse([]byte(b.Content), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Preferences(), (api.Preferences{IdleSessionTimeout: DefaultIdleSessionTimeout}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
