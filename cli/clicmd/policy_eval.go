package clicmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

// exitDenied is policy eval's exit code for a denial.
const exitDenied = 3

func (a *app) newPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Ask what the policy decides",
	}
	cmd.AddCommand(a.newPolicyEval())
	return cmd
}

func (a *app) newPolicyEval() *cobra.Command {
	var (
		req    api.EvaluatePolicyRequest
		params []string
	)
	cmd := &cobra.Command{
		Use:   "eval [--user U] --target T [--document D] [--action A] [--parameters P]... [--session-id S]",
		Short: "Ask the broker what its policy would decide, without doing anything",
		Long: "Ask the broker what its policy would decide for a request, without doing anything.\n" +
			"Prints allow or deny, the reasons, the obligations a session would get, and the\n" +
			"revision of the policy bundle that decided.\n\n" +
			"Exit status: 0 when the policy allows, " + fmt.Sprint(exitDenied) + " when it denies, 1 or 2 when tether could\n" +
			"not ask.",
		Example: "  tether policy eval --target web-1\n" +
			"  tether policy eval --user bob --target web-1 --document Tether-StartInteractiveCommand \\\n" +
			"      --parameters command=top\n" +
			"  tether policy eval --user bob --action TerminateSession --session-id alice-0a1b2c3d",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&req.User, "user", "", "whose request (default: you)")
	f.StringVar(&req.Target, "target", "", "the instance the request is for")
	f.StringVar(&req.Document, "document", "", "the session document the request names")
	f.StringVar(&req.Action, "action", "", "the API verb (default: "+api.VerbStartSession+")")
	f.StringArrayVar(&params, "parameters", nil, "the document's parameters, as for start-session (repeatable)")
	f.StringVar(&req.SessionID, "session-id", "", "the session the request is about, for verbs on a session")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		if req.Target == "" && req.SessionID == "" && (req.Action == "" || req.Action == api.VerbStartSession) {
			return usageError{errors.New("--target is required")}
		}
		var err error
		if req.Parameters, err = parseParameters(params); err != nil {
			return usageError{err}
		}
		var resp api.EvaluatePolicyResponse
		if err := a.call(cmd.Context(), api.VerbEvaluatePolicy, req, &resp); err != nil {
			return err
		}
		if err := a.print(resp, func(w io.Writer) error { return writeDecision(w, resp) }); err != nil {
			return err
		}
		if !resp.Allow {
			return exitError{exitDenied}
		}
		return nil
	})
	return cmd
}

// writeDecision prints a policy decision: allow or deny, then a line per reason and per
// obligation, then the bundle's revision.
func writeDecision(w io.Writer, resp api.EvaluatePolicyResponse) error {
	verdict := "deny"
	if resp.Allow {
		verdict = "allow"
	}
	fmt.Fprintln(w, verdict)
	for _, r := range resp.Reasons {
		fmt.Fprintf(w, "reason: %s\n", output.Clean(r))
	}
	for _, k := range slices.Sorted(maps.Keys(resp.Obligations)) {
		v, ok := resp.Obligations[k].(string)
		if !ok {
			b, _ := json.Marshal(resp.Obligations[k])
			v = string(b)
		}
		fmt.Fprintf(w, "obligation %s: %s\n", output.Clean(k), output.Clean(v))
	}
	_, err := fmt.Fprintf(w, "revision: %s\n", output.Clean(resp.Revision))
	return err
}
