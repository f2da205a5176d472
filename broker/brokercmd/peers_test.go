package brokercmd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tetherhq/tether/streams/peertest"
)

// TestPeerScripts runs testdata/peers/*.txtar: port forwarding and ssh-proxy end to end,
// to real servers on loopback — OpenSSH's sshd and Debian's PostgreSQL, which .ci/run
// installs — reached with their own clients (ssh, scp, rsync, psql) through a real
// broker and agent.
func TestPeerScripts(t *testing.T) {
	sshd := peertest.StartSSHD(t)
	pg := peertest.StartPostgres(t)
	psql := pg.PSQL("", 0, "")[0]
	peertest.Need(t, "rsync", "rsync")
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "peers"),
		RequireExplicitExec: true,
		Cmds:                scriptCmds(),
		Setup: func(env *testscript.Env) error {
			if err := setup(env); err != nil {
				return err
			}
			// psql looks for DIR/.s.PGSQL.PORT; a unix socket's path must stay short.
			short, err := os.MkdirTemp("", "tpg")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(short) })
			for k, v := range map[string]string{
				"SSHD_PORT": strconv.Itoa(sshd.Port), "SSH_USER": sshd.User, "SSH_KEY": sshd.Key,
				"PG_PORT": strconv.Itoa(pg.Port), "PG_SOCKET": pg.SocketPath(), "PG_USER": pg.User,
				"PSQL": psql, "SHORT_DIR": short,
			} {
				env.Setenv(k, v)
			}
			return nil
		},
	})
}
