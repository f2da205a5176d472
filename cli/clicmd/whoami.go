package clicmd

import (
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/broker/api"
	"github.com/tetherhq/tether/cli/output"
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
			tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
			for _, kv := range [][2]string{
				{"Name:", p.Name}, {"Kind:", p.Kind},
				{"Groups:", output.List(p.Groups)}, {"Attributes:", output.Map(p.Attributes)},
			} {
				v := output.Clean(kv[1])
				if v == "" {
					v = "-"
				}
				io.WriteString(tw, kv[0]+"\t"+v+"\n")
			}
			return tw.Flush()
		})
	})
	return cmd
}
