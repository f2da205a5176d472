package document

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Limits of a Standard_Stream document's inputs.
const (
	DefaultIdleSessionTimeout = 20 // minutes, as SSM
	MaxIdleSessionTimeout     = 60
	MaxSessionDuration        = 1440
	MaxTranscriptRetention    = 3650 // days
	MaxShellProfile           = 4 << 10
	MaxS3KeyPrefix            = 1024
)

var (
	userNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
	bucketRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// unsupported are inputs naming a feature Tether lacks; SSM's own default preferences
// leave them blank, so blank is accepted.
var unsupported = []struct {
	name string
	get  func(*rawInputs) string
	why  string
}{
	{"cloudWatchLogGroupName", func(in *rawInputs) string { return in.CloudWatchLogGroupName },
		"CloudWatch Logs is not supported by Tether; recordings are kept in JetStream and shipped with s3BucketName"},
	{"kmsKeyId", func(in *rawInputs) string { return in.KMSKeyID },
		"KMS encryption of session data is not supported by Tether; session data travels over the broker's TLS connections"},
}

func parseInputs(in *rawInputs) (api.Preferences, bool, error) {
	p := api.Preferences{IdleSessionTimeout: DefaultIdleSessionTimeout}
	if in == nil {
		return p, false, nil
	}
	for _, u := range unsupported {
		if strings.TrimSpace(u.get(in)) != "" {
			return p, false, fmt.Errorf("document: inputs.%s: %s", u.name, u.why)
		}
	}
	// cloudWatchEncryptionEnabled and cloudWatchStreamingEnabled qualify the log group;
	// with none (checked above) they do nothing, and SSM's default document sets
	// cloudWatchEncryptionEnabled: true, so any value is accepted.

	if in.S3BucketName != "" {
		if err := validBucket(in.S3BucketName); err != nil {
			return p, false, fmt.Errorf("document: inputs.s3BucketName: %w", err)
		}
	}
	if len(in.S3KeyPrefix) > MaxS3KeyPrefix {
		return p, false, fmt.Errorf("document: inputs.s3KeyPrefix is %d bytes, over %d", len(in.S3KeyPrefix), MaxS3KeyPrefix)
	}
	if i := controlAt(in.S3KeyPrefix, false); i >= 0 {
		return p, false, fmt.Errorf("document: inputs.s3KeyPrefix holds a control character at byte %d", i)
	}
	p.S3BucketName, p.S3KeyPrefix, p.S3EncryptionEnabled = in.S3BucketName, in.S3KeyPrefix, in.S3EncryptionEnabled.v

	if err := minutes("idleSessionTimeout", in.IdleSessionTimeout, MaxIdleSessionTimeout, &p.IdleSessionTimeout); err != nil {
		return p, false, err
	}
	if err := minutes("maxSessionDuration", in.MaxSessionDuration, MaxSessionDuration, &p.MaxSessionDuration); err != nil {
		return p, false, err
	}
	if t := in.TranscriptRetentionDays; t.set {
		if t.v < 1 || t.v > MaxTranscriptRetention {
			return p, false, fmt.Errorf("document: inputs.transcriptRetentionDays: %d days is out of range (1-%d)", t.v, MaxTranscriptRetention)
		}
		p.TranscriptRetentionDays = int(t.v)
	}

	p.RunAsEnabled = in.RunAsEnabled.v
	if u := in.RunAsDefaultUser; u != "" {
		if !userNameRE.MatchString(u) {
			return p, false, fmt.Errorf("document: inputs.runAsDefaultUser: %.64q is not a valid user name (want %s)", u, userNameRE)
		}
		p.RunAsDefaultUser = u
	} else if p.RunAsEnabled {
		return p, false, fmt.Errorf("document: inputs.runAsDefaultUser is required when runAsEnabled is true")
	}

	if sp := in.ShellProfile; sp != nil {
		if len(sp.Linux) > MaxShellProfile {
			return p, false, fmt.Errorf("document: inputs.shellProfile.linux is %d bytes, over %d", len(sp.Linux), MaxShellProfile)
		}
		if i := controlAt(sp.Linux, true); i >= 0 {
			return p, false, fmt.Errorf("document: inputs.shellProfile.linux holds a control character at byte %d", i)
		}
		p.ShellProfileLinux = sp.Linux
	}
	p.RecordInput, p.StreamingEnabled = in.RecordInput.v, in.StreamingEnabled.v
	return p, in.RecordInput.v, nil
}

func minutes(name string, v flexInt, limit int64, out *int) error {
	if !v.set {
		return nil
	}
	if v.v < 1 || v.v > limit {
		return fmt.Errorf("document: inputs.%s: %d minutes is out of range (1-%d)", name, v.v, limit)
	}
	*out = int(v.v)
	return nil
}

// validBucket applies S3's bucket naming rules.
func validBucket(s string) error {
	switch {
	case !bucketRE.MatchString(s):
		return fmt.Errorf("%.64q is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)", s)
	case strings.Contains(s, ".."), strings.Contains(s, ".-"), strings.Contains(s, "-."):
		return fmt.Errorf("%q is not a valid S3 bucket name (adjacent dots or a dot next to a hyphen)", s)
	case strings.HasPrefix(s, "xn--"), strings.HasPrefix(s, "sthree-"), strings.HasSuffix(s, "-s3alias"), strings.HasSuffix(s, "--ol-s3"):
		return fmt.Errorf("%q is not a valid S3 bucket name (reserved prefix or suffix)", s)
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return fmt.Errorf("%q is not a valid S3 bucket name (formatted as an IP address)", s)
	}
	return nil
}

// controlAt returns the byte offset of the first C0 control character or DEL in s other
// than tab and newline (and carriage return, when cr), or -1.
func controlAt(s string, cr bool) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t' && c != '\n' && !(cr && c == '\r')) || c == 0x7f {
			return i
		}
	}
	return -1
}
