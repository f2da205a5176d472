package clicmd

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newDescribeInstances() *cobra.Command {
	var (
		ids []string
		pf  pageFlags
	)
	cmd := &cobra.Command{
		Use:     "describe-instance-information",
		Aliases: []string{"instances"},
		Short:   "List the managed instances and their status",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringSliceVar(&ids, "instance-ids", nil, "only these instances (comma-separated or repeated)")
	addPageFlags(cmd, &pf, "instances")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if err := pf.check(); err != nil {
			return err
		}
		resp, err := a.describeInstances(cmd.Context(), api.DescribeInstancesRequest{InstanceIDs: ids}, pf)
		if err != nil {
			return err
		}
		defer a.printNextToken(resp.NextToken)
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

// describeInstances fetches the instances, every page or the one pf asks for.
func (a *app) describeInstances(ctx context.Context, req api.DescribeInstancesRequest, pf pageFlags) (api.DescribeInstancesResponse, error) {
	resp := api.DescribeInstancesResponse{Instances: []api.Instance{}}
	next, err := pf.fetch(func(token string) (string, error) {
		req.MaxResults, req.NextToken = pf.maxResults, token
		var page api.DescribeInstancesResponse
		if err := a.call(ctx, api.VerbDescribeInstances, req, &page); err != nil {
			return "", err
		}
		resp.Instances = append(resp.Instances, page.Instances...)
		return page.NextToken, nil
	})
	resp.NextToken = next
	return resp, err
}
