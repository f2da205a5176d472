package clicmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"
)

type keygenResult struct {
	PublicKey string `json:"public_key"`
	Seed      string `json:"seed,omitempty"`
	SeedFile  string `json:"seed_file,omitempty"`
}

func (a *app) newKeygen() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [--out FILE]",
		Short: "Create an NKEY user key pair",
		Long: "Create an NKEY user key pair. With --out the seed is written to FILE (mode 0600, never\n" +
			"overwritten); without, it is printed on stdout and the public key on stderr.\n" +
			"Give the public key to an admin: tether admin user add NAME --nkey PUBLIC_KEY",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&out, "out", "", "write the seed to this file")
	cmd.RunE = a.runE(func(*cobra.Command, []string) error {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		res := keygenResult{PublicKey: pub}
		if out != "" {
			if err := writeNew(out, append(seed, '\n')); err != nil {
				return err
			}
			res.SeedFile = out
			return a.print(res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Wrote seed to %s\nPublic key: %s\n", out, pub)
				return err
			})
		}
		res.Seed = string(seed)
		return a.print(res, func(w io.Writer) error {
			if _, err := fmt.Fprintf(w, "%s\n", seed); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.stderr, "Public key: %s\n", pub)
			return err
		})
	})
	return cmd
}

// writeNew creates path with mode 0600 and writes data, refusing to replace a file.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: refusing to overwrite a key", path)
		}
		return fmt.Errorf("write seed: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write seed %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write seed %s: %w", path, err)
	}
	return nil
}
