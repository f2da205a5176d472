package clicmd

import (
	"context"
	"fmt"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/streams/wire/api"
)

// sshSuffix marks a host name as a Tether target in ssh's configuration (Host *.tether).
const sshSuffix = ".tether"

func (a *app) newSSHProxy() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "ssh-proxy HOST PORT",
		Short: "Carry one connection over stdin and stdout to PORT on instance HOST (ssh's ProxyCommand)",
		Long: "Connect stdin and stdout, through the broker, to port PORT on the instance HOST\n" +
			"itself (a session of the document " + api.DocSSH + "): ssh's ProxyCommand, so\n" +
			"that ssh, scp, sftp and rsync reach the instance's own sshd with no inbound port.\n" +
			"A " + sshSuffix + " suffix of HOST is dropped: HOST is an instance id or name. Only the\n" +
			"connection's bytes go to stdout; messages go to stderr. When the connection closes\n" +
			"the session ends. `tether ssh-config` prints the ssh configuration that uses it.",
		Example: "  ssh -o ProxyCommand='tether ssh-proxy %h %p' admin@web-1\n" +
			"  tether ssh-config >> ~/.ssh/config; ssh admin@web-1.tether",
		Args:        exactArgs("HOST", "PORT"),
		Annotations: ownSignals,
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why you start the session, for the audit log")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		target, port, err := sshProxyTarget(args[0], args[1])
		if err != nil {
			return usageError{err}
		}
		return a.sshProxy(cmd.Context(), target, port, reason)
	})
	return cmd
}

// sshProxyTarget reads ssh-proxy's HOST and PORT (ssh's %h and %p).
func sshProxyTarget(host, port string) (target string, p int, err error) {
	target = host
	if len(host) > len(sshSuffix) && strings.EqualFold(host[len(host)-len(sshSuffix):], sshSuffix) {
		target = host[:len(host)-len(sshSuffix)]
	}
	if target == "" || strings.HasPrefix(target, "-") || strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", 0, fmt.Errorf("HOST %.64q: not an instance id or name", host)
	}
	if p, err = parseRemotePort(port); err != nil {
		return "", 0, fmt.Errorf("PORT: %w", err)
	}
	return target, p, nil
}

// sshProxy carries stdin and stdout to port on target.
func (a *app) sshProxy(ctx context.Context, target string, port int, reason string) error {
	// ssh hangs up on its proxy when it is done (SIGHUP): that ends the session quietly.
	ctx, stop := stopOnSignal(ctx)
	defer stop()
	// A reader of stdout that goes away is the connection's end, not a reason to die.
	signal.Ignore(syscall.SIGPIPE)
	req := api.StartSessionRequest{
		Target:     target,
		Document:   api.DocSSH,
		Parameters: map[string][]string{"portNumber": {strconv.Itoa(port)}},
		Reason:     reason,
	}
	var start api.StartSessionResponse
	if err := a.call(ctx, api.VerbStartSession, req, &start); err != nil {
		return err
	}
	growPipes(a.stdin, a.stdout)
	return a.followForward(ctx, start, forwardPlan{stdio: &stdioStream{r: a.stdin, w: a.stdout, label: target + ":" + strconv.Itoa(port)}})
}
