package clicmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

func (a *app) newUser() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list and remove users",
	}
	cmd.AddCommand(a.newUserAdd(), a.newUserList(), a.newUserRemove())
	return cmd
}

func (a *app) newUserAdd() *cobra.Command {
	var u api.User
	cmd := &cobra.Command{
		Use:   "add NAME --nkey PUBLIC_KEY [--group G]... [--attr k=v]...",
		Short: "Add a user, identified by an NKEY public key (see tether keygen)",
		Args:  exactArgs("NAME"),
	}
	f := cmd.Flags()
	f.StringVar(&u.NKey, "nkey", "", "the user's NKEY public key (U...)")
	f.StringArrayVar(&u.Groups, "group", nil, "a group the user belongs to (repeatable)")
	f.StringToStringVar(&u.Attributes, "attr", nil, "an attribute k=v for policies (repeatable)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		u.Name = args[0]
		if err := subjects.ValidName(u.Name); err != nil {
			return usageError{fmt.Errorf("user name: %w", err)}
		}
		if u.NKey == "" {
			return usageError{fmt.Errorf("--nkey is required")}
		}
		if err := checkUserKey(u.NKey); err != nil {
			return usageError{err}
		}
		if err := a.call(cmd.Context(), api.VerbAddUser, api.AddUserRequest{User: u}, nil); err != nil {
			return err
		}
		return a.print(api.AddUserRequest{User: u}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Added user %s\n", u.Name)
			return err
		})
	})
	return cmd
}

func (a *app) newUserList() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.ListUsersResponse
		if err := a.call(cmd.Context(), api.VerbListUsers, api.Empty{}, &resp); err != nil {
			return err
		}
		if resp.Users == nil {
			resp.Users = []api.User{}
		}
		return a.print(resp, func(w io.Writer) error {
			t := output.NewTable(w, "NAME", "NKEY", "GROUPS", "ATTRIBUTES", "CREATED")
			for _, u := range resp.Users {
				t.Row(u.Name, u.NKey, output.List(u.Groups), output.Map(u.Attributes), output.Time(u.CreatedAt))
			}
			return t.Flush()
		})
	})
	return cmd
}

func (a *app) newUserRemove() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user",
		Args:  exactArgs("NAME"),
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if err := a.call(cmd.Context(), api.VerbRemoveUser, api.RemoveUserRequest{Name: args[0]}, nil); err != nil {
			return err
		}
		return a.print(api.RemoveUserRequest{Name: args[0]}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Removed user %s\n", args[0])
			return err
		})
	})
	return cmd
}

// checkUserKey refuses what is not a user public key for --nkey; a seed, the private
// half, is never repeated: the error gives its public key instead.
func checkUserKey(key string) error {
	if strings.HasPrefix(key, "S") { // every NKEY seed starts with S, no public key does
		pub := "the user public key (U…) that tether keygen printed with it"
		if kp, err := nkeys.FromSeed([]byte(key)); err == nil {
			if p, err := kp.PublicKey(); err == nil && nkeys.IsValidPublicUserKey(p) {
				pub = "its public key " + p
			}
		}
		return fmt.Errorf("--nkey: this is an NKEY seed, a private key: give %s instead, and keep the seed "+
			"secret (a seed given on a command line may be in your shell's history)", pub)
	}
	if !nkeys.IsValidPublicUserKey(key) {
		return fmt.Errorf("--nkey %q: not an NKEY user public key (U…)", key)
	}
	return nil
}
