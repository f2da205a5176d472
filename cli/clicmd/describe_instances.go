package clicmd

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newDescribeInstances() *cobra.Command {
	var ids []string
	cmd := &cobra.Command{
		Use:     "describe-instance-information",
		Aliases: []string{"instances"},
		Short:   "List the managed instances and their status",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringSliceVar(&ids, "instance-ids", nil, "only these instances (comma-separated or repeated)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.DescribeInstancesResponse
		if err := a.call(cmd.Context(), api.VerbDescribeInstances, api.DescribeInstancesRequest{InstanceIDs: ids}, &resp); err != nil {
			return err
		}
		if resp.Instances == nil {
			resp.Instances = []api.Instance{}
		}
		return a.print(resp, func(w io.Writer) error {
			t := output.NewTable(w, "INSTANCE ID", "NAME", "HOSTNAME", "PLATFORM", "AGENT VERSION",
				"PING STATUS", "LAST HEARTBEAT", "IP ADDRESSES", "TAGS")
			for _, in := range resp.Instances {
				platform := in.OS + "/" + in.Arch
				if in.OS == "" && in.Arch == "" {
					platform = ""
				}
				t.Row(in.ID, in.Name, in.Hostname, platform, in.AgentVersion, in.PingStatus,
					output.Time(in.LastHeartbeat), output.List(in.IPAddresses), output.Map(in.Tags))
			}
			return t.Flush()
		})
	})
	return cmd
}
