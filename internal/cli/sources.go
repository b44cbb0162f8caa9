package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/httpapi"
)

// newSourcesCmd is `medic sources`: whether medic is reading its failure
// sources, for an on-call engineer wondering why nothing arrives.
func newSourcesCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "sources [--json]",
		Short: "Show how reading failures goes: Airflow pollers and Slack alert channels",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", "/api/v1/sources", nil, &raw); err != nil {
				return err
			}
			if asJSON {
				return writeRaw(streams.Out, raw)
			}
			var s httpapi.Sources
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode the sources: %w", err)
			}
			return writeSources(streams, &s)
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func writeSources(streams IO, s *httpapi.Sources) error {
	tw := tabwriter.NewWriter(streams.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tWHERE\tLAST POLL\tLAST SUCCESS\tSTATE")
	for _, p := range s.Pollers {
		fmt.Fprintf(tw, "airflow poller\t%s\t%s\t%s\t%s\n", p.Instance, when(p.LastPoll), when(p.LastSuccess), sourceState(p.LastPoll, p.LastError))
	}
	if a := s.SlackAlerts; a != nil {
		for _, ch := range a.Channels {
			errText := ch.LastError
			if a.TokenError != "" {
				errText = a.TokenError
			}
			fmt.Fprintf(tw, "slack alerts\t%s\t%s\t%s\t%s\n", ch.Channel, when(ch.LastPoll), when(ch.LastSuccess), sourceState(ch.LastPoll, errText))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	hook := "POST /api/v1/events needs an operator token (no ingest.webhook.secret)"
	if s.WebhookSigned {
		hook = "POST /api/v1/events needs the HMAC signature (ingest.webhook.secret)"
	}
	if len(s.Pollers) == 0 && s.SlackAlerts == nil {
		fmt.Fprintln(streams.Out, "no pollers and no Slack alert channels: medic hears of failures only from callbacks, OpenLineage and medic triage")
	}
	_, err := fmt.Fprintln(streams.Out, "callbacks: "+hook)
	return err
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func sourceState(lastPoll time.Time, lastErr string) string {
	switch {
	case lastErr != "":
		return "failing: " + clipText(lastErr, 120)
	case lastPoll.IsZero():
		return "not polled yet"
	}
	return "ok"
}
