package clicmd

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) newSSHConfig() *cobra.Command {
	var pattern string
	cmd := &cobra.Command{
		Use:   "ssh-config [--pattern PATTERN]",
		Short: "Print the ~/.ssh/config block that sends ssh to instances through tether ssh-proxy",
		Long: "Print a ~/.ssh/config block: hosts matching PATTERN (default *" + sshSuffix + ") are\n" +
			"reached with `tether ssh-proxy %h %p`, this tether binary by its absolute path.\n" +
			"Then `ssh user@web-1" + sshSuffix + "` reaches instance web-1's own sshd, as do scp,\n" +
			"sftp and rsync. PATTERN can also be given as the one argument.",
		Example: "  tether ssh-config >> ~/.ssh/config\n" +
			"  tether ssh-config --pattern 'i-*'",
		Args: idArgs("pattern"),
	}
	cmd.Flags().StringVar(&pattern, "pattern", "", "the ssh Host pattern of instances (default *"+sshSuffix+")")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		p := "*" + sshSuffix
		if pattern != "" || len(args) > 0 {
			var err error
			if p, err = oneID("pattern", pattern, args); err != nil {
				return err
			}
		}
		exe := a.executable
		if exe == nil {
			return errors.New("cannot tell where this tether binary is")
		}
		path, err := exe()
		if err != nil {
			return fmt.Errorf("find this tether binary: %w", err)
		}
		var config string
		if a.configPath != "" {
			if config, err = filepath.Abs(a.configPath); err != nil {
				return err
			}
		}
		block, err := sshConfigBlock(p, path, config)
		if err != nil {
			return usageError{err}
		}
		_, err = io.WriteString(a.stdout, block)
		return err
	})
	return cmd
}

// sshConfigBlock is the ~/.ssh/config block for hosts matching pattern, reached through
// the tether binary at exe (given --config config, if it is not "").
func sshConfigBlock(pattern, exe, config string) (string, error) {
	if strings.TrimSpace(pattern) == "" || strings.ContainsFunc(pattern, func(r rune) bool { return r < ' ' || r == 0x7f || r == '"' }) {
		return "", fmt.Errorf("--pattern %.64q: not an ssh Host pattern", pattern)
	}
	if !filepath.IsAbs(exe) {
		return "", fmt.Errorf("tether binary %q: not an absolute path", exe)
	}
	cmd, err := sshWord(exe)
	if err != nil {
		return "", err
	}
	if config != "" {
		word, err := sshWord(config)
		if err != nil {
			return "", err
		}
		cmd += " --config " + word
	}
	example := "web-1" + sshSuffix
	if pattern != "*"+sshSuffix {
		example = "HOST, with HOST matching " + pattern
	}
	return fmt.Sprintf("# Tether: ssh, scp, sftp and rsync reach instances through the broker, e.g. ssh user@%s\n"+
		"Host %s\n"+
		"    ProxyCommand %s ssh-proxy %%h %%p\n", example, pattern, cmd), nil
}

// sshWord quotes s for a ProxyCommand, which ssh expands (% tokens) and then runs with
// the shell: bare if it is plain, else in double quotes with the shell's specials escaped.
func sshWord(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", fmt.Errorf("path %q: holds a control character", s)
	}
	s = strings.ReplaceAll(s, "%", "%%")
	plain := !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%", r))
	})
	if plain {
		return s, nil
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if strings.ContainsRune("\\\"$`", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}
