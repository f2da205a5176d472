package clicmd

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newWhoAmI() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the broker says you are",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.WhoAmIResponse
		if err := a.call(cmd.Context(), api.VerbWhoAmI, api.Empty{}, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error {
			p := resp.Principal
			return writeFields(w, [][2]string{
				{"Name:", p.Name}, {"Kind:", p.Kind},
				{"Groups:", output.List(p.Groups)}, {"Attributes:", output.Map(p.Attributes)},
			})
		})
	})
	return cmd
}
