package clicmd

import "github.com/spf13/cobra"

func (a *app) newAdmin() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage activations and users (admins only)",
	}
	cmd.AddCommand(a.newActivation(), a.newUser())
	return cmd
}
