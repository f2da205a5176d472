package clicmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Shell completion (tether completion bash|zsh|fish|powershell, cobra's) offers, besides
// verbs and flags, what the broker knows: targets, session ids, document names. A broker
// that cannot be reached, or refuses, makes it offer nothing, quietly and soon.

// completeTimeout bounds each question completion asks the broker: a shell waits on it.
const completeTimeout = 2 * time.Second

type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// enumValues are flags whose values are a fixed list, by flag name.
var enumValues = map[string][]string{
	"state":           {"Active", "History"},
	"output":          {"table", "json"},
	"session-type":    sessionTypes,
	"document-format": {api.FormatYAML, api.FormatJSON},
	"action": {api.VerbStartSession, api.VerbResumeSession, api.VerbTerminateSession,
		api.VerbDescribeSessions, api.VerbDescribeInstances},
}

// registerCompletions walks the command tree built by newRoot and gives each flag and
// argument that names a broker's thing its completion.
func (a *app) registerCompletions(root *cobra.Command) {
	flags := map[string]completeFunc{
		"target":        a.completeTargets,
		"instance-ids":  a.completeTargets,
		"session-id":    a.completeSessions("Active"),
		"document-name": a.completeDocuments,
		"document":      a.completeDocuments,
	}
	// Verbs whose --name, or one argument, is a document, a session or a target.
	args := map[string]completeFunc{
		"shell":             a.completeTargets,
		"forward":           a.completeTargets,
		"terminate-session": a.completeSessions("Active"),
		"resume-session":    a.completeSessions("Active"),
		"play":              a.completeSessions("History"),
		"get-document":      a.completeDocuments,
		"update-document":   a.completeDocuments,
		"delete-document":   a.completeDocuments,
	}
	for name, vals := range enumValues {
		flags[name] = fixed(vals)
	}
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		visit := func(f *pflag.Flag) {
			fn, ok := flags[f.Name]
			if f.Name == "name" {
				fn, ok = args[cmd.Name()]
			}
			if ok {
				_ = cmd.RegisterFlagCompletionFunc(f.Name, fn) // only fails on a second registration
			}
		}
		cmd.LocalNonPersistentFlags().VisitAll(visit)
		cmd.PersistentFlags().VisitAll(visit)
		if fn, ok := args[cmd.Name()]; ok && cmd.ValidArgsFunction == nil && cmd.Parent() == root {
			cmd.ValidArgsFunction = oneArg(fn)
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

func fixed(vals []string) completeFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// oneArg completes the first argument only.
func oneArg(fn completeFunc) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(cmd, args, toComplete)
	}
}

// quick bounds the questions completion asks the broker, connecting included: a shell
// waits on them.
func (a *app) quick() {
	if a.timeout <= 0 || a.timeout > completeTimeout {
		a.timeout = completeTimeout
	}
}

// completeTargets offers instance ids and names.
func (a *app) completeTargets(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	a.quick()
	resp, err := a.describeInstances(ctxOf(cmd), api.DescribeInstancesRequest{}, pageFlags{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, in := range resp.Instances {
		out = append(out, in.ID+"\t"+strings.TrimSpace(in.Name+" "+in.PingStatus))
		if in.Name != "" && in.Name != in.ID {
			out = append(out, in.Name+"\t"+in.ID+" "+in.PingStatus)
		}
	}
	return prefixed(out, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeSessions offers the ids of the sessions in state (Active or History).
func (a *app) completeSessions(state string) completeFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		a.quick()
		var resp api.DescribeSessionsResponse
		if a.call(ctxOf(cmd), api.VerbDescribeSessions, api.DescribeSessionsRequest{State: state}, &resp) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, s := range resp.Sessions {
			out = append(out, s.ID+"\t"+s.Target+" "+s.State)
		}
		return prefixed(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeDocuments offers document names.
func (a *app) completeDocuments(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	a.quick()
	resp, err := a.listDocuments(ctxOf(cmd), api.ListDocumentsRequest{}, pageFlags{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, d := range resp.Documents {
		out = append(out, d.Name+"\t"+d.SessionType)
	}
	return prefixed(out, toComplete), cobra.ShellCompDirectiveNoFileComp
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// prefixed keeps the candidates that start with what is typed (the shell would too; this
// keeps the list short).
func prefixed(cands []string, prefix string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
