package clicmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/version"
)

func (a *app) newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version (as --version does)",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(a.stdout, version.String("tether"))
			return err
		}),
	}
}
