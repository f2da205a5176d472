package clicmd

import "github.com/spf13/cobra"

func (a *app) newAdmin() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage activations, users and the policy bundle, and see recording shipping (admins only)",
	}
	cmd.AddCommand(a.newActivation(), a.newUser(), a.newPolicyAdmin(), a.newShipAdmin())
	return cmd
}
