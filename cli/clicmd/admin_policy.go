package clicmd

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newPolicyAdmin() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Push the policy bundle the brokers evaluate, and see which one they run",
	}
	cmd.AddCommand(a.newPolicyPush(), a.newPolicyStatus())
	return cmd
}

func (a *app) newPolicyPush() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Replace the policy bundle every broker evaluates with the one in DIR",
		Long: "Send the policy bundle in DIR to the brokers: every .rego file and every data.json,\n" +
			"data.yaml and data.yml, at any depth, hidden files and directories skipped. At most\n" +
			strconv.Itoa(maxPolicyFiles) + " files and 1 MiB. The brokers compile it before they use it: a bundle that\n" +
			"does not compile is refused, and the brokers keep the one they have.",
		Example: "  tether admin policy push ./policies\n" +
			"  tether admin policy status",
		Args: exactArgs("DIR"),
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		files, err := collectPolicy(args[0])
		if err != nil {
			return err
		}
		nc, _, err := a.client()
		if err != nil {
			return err
		}
		max := api.MaxPolicyRequest
		if mp := nc.MaxPayload(); mp > 0 && mp < int64(max) {
			max = int(mp) // the server's own limit is the tighter one
		}
		req, err := policyRequest(files, max)
		if err != nil {
			return fmt.Errorf("push %s: %w", args[0], err)
		}
		var resp api.PushPolicyResponse
		if err := a.call(cmd.Context(), api.VerbPushPolicy, req, &resp); err != nil {
			return err
		}
		return a.print(resp, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Pushed policy revision %s (%d files)\n", output.Clean(resp.Bundle.Revision), resp.Bundle.Files)
			return err
		})
	})
	return cmd
}

func (a *app) newPolicyStatus() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show the policy bundle each broker evaluates, and the one last pushed",
		Example: "  tether admin policy status",
		Args:    cobra.NoArgs,
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.PolicyStatusResponse
		if err := a.call(cmd.Context(), api.VerbPolicyStatus, api.Empty{}, &resp); err != nil {
			return err
		}
		if resp.Brokers == nil {
			resp.Brokers = []api.BrokerPolicy{}
		}
		return a.print(resp, func(w io.Writer) error { return writePolicyStatus(w, resp) })
	})
	return cmd
}

// writePolicyStatus prints the pushed bundle, then a table of the brokers.
func writePolicyStatus(w io.Writer, resp api.PolicyStatusResponse) error {
	if p := resp.Pushed; p != nil {
		by := ""
		if p.PushedBy != "" {
			by = " by " + p.PushedBy
		}
		if !p.PushedAt.IsZero() {
			by += " at " + output.Time(p.PushedAt)
		}
		fmt.Fprintf(w, "Pushed: %s%s (%d files)\n\n", output.Clean(p.Revision), output.Clean(by), p.Files)
	} else {
		fmt.Fprintf(w, "Pushed: none\n\n")
	}
	t := output.NewTable(w, "SERVER", "REVISION", "LOADED", "ERROR")
	for _, b := range resp.Brokers {
		t.Row(b.Server, b.Revision, output.Time(b.LoadedAt), b.Error)
	}
	return t.Flush()
}
