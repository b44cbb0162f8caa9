package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"
)

// newPostmortemCmd is `medic postmortem ID`: the incident's postmortem in
// Markdown, written by the daemon from its records.
func newPostmortemCmd(streams IO) *cobra.Command {
	var sf serverFlags
	var out string
	cmd := &cobra.Command{
		Use:   "postmortem INCIDENT_ID",
		Short: "Print an incident's postmortem (Markdown) from medic's records",
		Long: "Prints the incident's postmortem as Markdown: summary, root cause with evidence, what was done,\n" +
			"the timeline, prevention and open questions. Every text in it is medic's redacted record; no\n" +
			"model writes any of it. Needs a viewer token.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			var md json.RawMessage
			if err := c.do(cmd.Context(), "GET", "/api/v1/incidents/"+url.PathEscape(args[0])+"/postmortem", nil, &md); err != nil {
				return err
			}
			if out == "" {
				_, err := streams.Out.Write(md)
				return err
			}
			if err := os.WriteFile(out, md, 0o644); err != nil {
				return fmt.Errorf("write the postmortem: %w", err)
			}
			fmt.Fprintf(streams.Err, "postmortem of %s written to %s\n", args[0], out)
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "write it to this file instead of stdout")
	return cmd
}
