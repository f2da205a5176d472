package clicmd

import (
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/tetherhq/tether/cli/output"
	"github.com/tetherhq/tether/streams/wire/api"
)

// writeFields prints label/value pairs, the values aligned, cleaned of control characters
// and "-" when empty.
func writeFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, kv := range fields {
		v := output.Clean(kv[1])
		if v == "" {
			v = "-"
		}
		io.WriteString(tw, kv[0]+"\t"+v+"\n")
	}
	return tw.Flush()
}

// writeDocument prints a document's description.
func writeDocument(w io.Writer, d api.DocumentDescription) error {
	return writeFields(w, [][2]string{
		{"Name:", d.Name},
		{"Version:", strconv.Itoa(d.Version)},
		{"Session Type:", d.SessionType},
		{"Format:", d.DocumentFormat},
		{"Owner:", d.Owner},
		{"Hash:", d.Hash},
	})
}
