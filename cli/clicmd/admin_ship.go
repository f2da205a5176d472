package clicmd

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

func (a *app) newShipAdmin() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ship",
		Short: "See how far recordings have been shipped to storage",
	}
	cmd.AddCommand(a.newShipStatus())
	return cmd
}

func (a *app) newShipStatus() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show the sessions waiting to be shipped and what each shipper last did",
		Example: "  tether admin ship status",
		Args:    cobra.NoArgs,
	}
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var resp api.ShipStatusResponse
		if err := a.call(cmd.Context(), api.VerbShipStatus, api.Empty{}, &resp); err != nil {
			return err
		}
		if resp.Shippers == nil {
			resp.Shippers = []api.ShipperStatus{}
		}
		return a.print(resp, func(w io.Writer) error { return writeShipStatus(w, resp) })
	})
	return cmd
}

// writeShipStatus prints the backlog, then a table of the shippers.
func writeShipStatus(w io.Writer, resp api.ShipStatusResponse) error {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	fields := [][2]string{
		{"Pending:", u(resp.Pending)},
		{"AckPending:", u(resp.AckPending)},
		{"Redelivered:", u(resp.Redelivered)},
		{"OldestWait:", time.Duration(resp.OldestWait).String()},
	}
	if c := resp.Transcripts; c != nil {
		fields = append(fields, [2]string{"Transcripts:", transcriptCapacity(*c)})
	}
	if err := writeFields(w, fields); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := output.NewTable(w, "NAME", "BACKEND", "SHIPPED", "FAILED", "LAST SHIPPED", "LAST ERROR")
	for _, s := range resp.Shippers {
		last := s.LastShipped
		if last != "" && !s.LastAt.IsZero() {
			last += " at " + output.Time(s.LastAt)
		}
		lastErr := s.LastError
		if lastErr != "" && !s.ErrorAt.IsZero() {
			lastErr = output.Time(s.ErrorAt) + ": " + lastErr
		}
		t.Row(s.Name, s.Backend, u(s.Shipped), u(s.Failed), last, lastErr)
	}
	return t.Flush()
}

// transcriptCapacity says how full the transcript stream is, and what that means.
func transcriptCapacity(c api.TranscriptCapacity) string {
	used := fmt.Sprintf("%d bytes", c.Bytes)
	if c.MaxBytes > 0 {
		used = fmt.Sprintf("%d of %d bytes", c.Bytes, c.MaxBytes)
	}
	msgs := fmt.Sprintf("%d messages", c.Messages)
	if c.MaxMessages > 0 {
		msgs = fmt.Sprintf("%d of %d messages", c.Messages, c.MaxMessages)
	}
	s := fmt.Sprintf("%s, %s (%.1f%%): %s", used, msgs, c.Percent, c.State)
	switch c.State {
	case api.CapacityFull:
		s += fmt.Sprintf(", no session starts (one needs %d bytes free)", c.ReserveBytes)
	case api.CapacityWarning:
		s += fmt.Sprintf(", past %d%%", api.CapacityHighWater)
	}
	if c.RefusedStarts > 0 {
		s += fmt.Sprintf("; %d sessions refused", c.RefusedStarts)
	}
	return s
}
