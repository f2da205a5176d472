package clicmd

import (
	"github.com/spf13/cobra"
)

func (a *app) newShell() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:         "shell INSTANCE",
		Short:       "Open an interactive shell on an instance (start-session --target INSTANCE)",
		Args:        exactArgs("INSTANCE"),
		Annotations: ownSignals,
	}
	cmd.Flags().StringVar(&o.document, "document-name", "", "the session document to use")
	cmd.Flags().StringArrayVar(&o.parameters, "parameters", nil, "the document's parameters: JSON, or name=value[,name=value...] (repeatable)")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why you start the session, for the audit log")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.target = args[0]
		return a.startSession(cmd.Context(), o)
	})
	return cmd
}
