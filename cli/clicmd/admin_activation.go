package clicmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newActivation() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "activation",
		Short: "Create, list and delete agent activations",
	}
	cmd.AddCommand(a.newActivationCreate(), a.newActivationList(), a.newActivationDelete())
	return cmd
}

func (a *app) newActivationCreate() *cobra.Command {
	var (
		req     api.CreateActivationRequest
		expires time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create [--tags k=v,...] [--limit N] [--expires 24h] [--name NAME]",
		Short: "Create an activation that agents enroll with",
		Args:  cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringToStringVar(&req.Tags, "tags", nil, "tags of the instances that enroll, k=v[,k=v]")
	f.IntVar(&req.Limit, "limit", 1, "how many instances may enroll with it")
	f.DurationVar(&expires, "expires", 24*time.Hour, "how long it stays valid")
	f.StringVar(&req.DefaultInstanceName, "name", "", "default name of the instances that enroll")
	f.StringVar(&req.Description, "description", "", "a description")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if req.Limit < 1 {
			return usageError{fmt.Errorf("--limit %d: must be at least 1", req.Limit)}
		}
		if expires <= 0 {
			return usageError{fmt.Errorf("--expires %v: must be positive", expires)}
		}
		req.Expires = expires.String()
		var act api.Activation
		if err := a.call(cmd.Context(), api.VerbCreateActivation, req, &act); err != nil {
			return err
		}
		return a.print(act, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Activation Code: %s\nActivation ID: %s\nExpires: %s\n\n"+
				"On each node, enroll and run the agent (its key is kept in /var/lib/tether-agent):\n  %s\n",
				act.Code, act.ID, output.Time(act.ExpiresAt), a.agentCommand(act))
			return err
		})
	})
	return cmd
}

func (a *app) newActivationList() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List activations",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.ListActivationsResponse
		if err := a.call(cmd.Context(), api.VerbListActivations, api.Empty{}, &resp); err != nil {
			return err
		}
		if resp.Activations == nil {
			resp.Activations = []api.Activation{}
		}
		return a.print(resp, func(w io.Writer) error {
			t := output.NewTable(w, "ACTIVATION ID", "DESCRIPTION", "DEFAULT NAME", "TAGS",
				"REGISTRATIONS", "LIMIT", "CREATED", "EXPIRES", "CREATED BY")
			for _, act := range resp.Activations {
				t.Row(act.ID, act.Description, act.DefaultInstanceName, output.Map(act.Tags),
					strconv.Itoa(act.Used), strconv.Itoa(act.Limit), output.Time(act.CreatedAt),
					output.Time(act.ExpiresAt), act.CreatedBy)
			}
			return t.Flush()
		})
	})
	return cmd
}

func (a *app) newActivationDelete() *cobra.Command {
	var flagID string
	cmd := &cobra.Command{
		Use:   "delete --activation-id ID",
		Short: "Delete an activation; instances already enrolled stay (shortcut: delete ID)",
		Args:  idArgs("activation-id"),
	}
	cmd.Flags().StringVar(&flagID, "activation-id", "", "the activation to delete")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		id, err := oneID("activation-id", flagID, args)
		if err != nil {
			return err
		}
		if err := a.call(cmd.Context(), api.VerbDeleteActivation, api.DeleteActivationRequest{ID: id}, nil); err != nil {
			return err
		}
		return a.print(api.DeleteActivationRequest{ID: id}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Deleted activation %s\n", id)
			return err
		})
	})
	return cmd
}

// agentCommand is the tether-agent command line that enrolls with act at the broker
// this CLI uses, the flags as tether-agent takes them.
func (a *app) agentCommand(act api.Activation) string {
	args := []string{"tether-agent", "--broker", a.cfg.BrokerURL}
	if ca := a.cfg.CAPath(); ca != "" {
		args = append(args, "--tls-ca", ca)
	}
	args = append(args, "--activation-id", act.ID, "--activation-code", act.Code)
	for i, s := range args {
		args[i] = shellQuote(s)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
