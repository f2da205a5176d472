package clicmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Verbs that act on one thing take it as aws ssm does, --session-id ID (or --name,
// --activation-id), or as their one argument, the shortcut: terminate-session ID.

// idArgs accepts at most the one id argument.
func idArgs(flag string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 1 {
			return fmt.Errorf("unexpected argument %q: give one --%s", args[1], flag)
		}
		return nil
	}
}

// oneID is the id given as --flag or as the argument; both is fine when they agree.
func oneID(flag, value string, args []string) (string, error) {
	switch {
	case len(args) == 1 && value != "" && args[0] != value:
		return "", usageError{fmt.Errorf("--%s %s and the argument %s name two things: give one", flag, value, args[0])}
	case len(args) == 1:
		return args[0], nil
	case value != "":
		return value, nil
	}
	return "", usageError{fmt.Errorf("--%s is required (or give it as the one argument)", flag)}
}
