package clicmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
)

// pageFlags are a list verb's --max-results and --next-token, as aws ssm's. Without them
// the verb fetches every page; with either it fetches one page and says where the next
// one starts (next_token in JSON, a last line "NextToken: T" on stderr in a table), so a
// script can go on from there.
type pageFlags struct {
	maxResults int
	nextToken  string
}

func addPageFlags(cmd *cobra.Command, p *pageFlags, items string) {
	f := cmd.Flags()
	f.IntVar(&p.maxResults, "max-results", 0, "fetch one page of at most this many "+items+" (default: every page)")
	f.StringVar(&p.nextToken, "next-token", "", "fetch the page that starts here (the NextToken a previous page printed)")
}

func (p pageFlags) onePage() bool { return p.maxResults > 0 || p.nextToken != "" }

func (p pageFlags) check() error {
	if p.maxResults < 0 {
		return usageError{fmt.Errorf("--max-results %d: must be positive", p.maxResults)}
	}
	return nil
}

// fetch calls page with each page's token, starting at --next-token, until the broker
// gives no next token, or once when one page was asked for. It returns the token of the
// page after the last one fetched ("" when there is none, or every page was fetched).
func (p pageFlags) fetch(page func(token string) (next string, err error)) (string, error) {
	token := p.nextToken
	seen := map[string]bool{}
	for {
		next, err := page(token)
		if err != nil {
			return "", err
		}
		if next == "" || p.onePage() {
			return next, nil
		}
		if seen[next] || next == token {
			return "", fmt.Errorf("the broker handed out next token %q twice: stopping rather than list items again", next)
		}
		seen[next] = true
		token = next
	}
}

// printNextToken ends a table with the token of the next page, on stderr, where it does
// not mix with the rows a script reads.
func (a *app) printNextToken(next string) {
	if next != "" && a.format != output.JSON {
		fmt.Fprintf(a.stderr, "NextToken: %s\n", next)
	}
}
