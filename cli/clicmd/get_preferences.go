package clicmd

import (
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newGetPreferences() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get-preferences",
		Short: "Show the session preferences every shell session gets by default",
		Long: "Show the session preferences: the inputs of the " + api.DocPreferences + "\n" +
			"document, which shell sessions use unless they name another document. Times are in\n" +
			"minutes; - means not set.",
		Example: "  tether get-preferences\n" +
			"  tether get-document --name " + api.DocPreferences + " > prefs.yaml",
		Args: cobra.NoArgs,
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.GetPreferencesResponse
		if err := a.call(cmd.Context(), api.VerbGetPreferences, api.Empty{}, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error { return writePreferences(w, resp) })
	})
	return cmd
}

// writePreferences prints the preferences as key: value lines, keyed as the document's
// inputs are.
func writePreferences(w io.Writer, resp api.GetPreferencesResponse) error {
	p := resp.Preferences
	minutes := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	idle := minutes(p.IdleSessionTimeout)
	if idle == "" {
		idle = "20 (default)"
	}
	profile := p.ShellProfileLinux
	if output.Clean(profile) != profile { // several lines: show them escaped, on one
		profile = strconv.Quote(profile)
	}
	return writeFields(w, [][2]string{
		{"document:", resp.Document.Name},
		{"version:", strconv.Itoa(resp.Document.Version)},
		{"idleSessionTimeout:", idle},
		{"maxSessionDuration:", minutes(p.MaxSessionDuration)},
		{"runAsEnabled:", strconv.FormatBool(p.RunAsEnabled)},
		{"runAsDefaultUser:", p.RunAsDefaultUser},
		{"shellProfileLinux:", profile},
		{"transcriptRetentionDays:", minutes(p.TranscriptRetentionDays)},
		{"s3BucketName:", p.S3BucketName},
		{"s3KeyPrefix:", p.S3KeyPrefix},
		{"s3EncryptionEnabled:", strconv.FormatBool(p.S3EncryptionEnabled)},
	})
}
