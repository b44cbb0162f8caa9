package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/incident"
)

// silenceBody is the body of POST /api/v1/silences.
type silenceBody struct {
	Dag      string `json:"dag"`
	Instance string `json:"instance,omitempty"`
	Severity string `json:"severity,omitempty"`
	Reason   string `json:"reason"`
	EndsAt   string `json:"ends_at,omitempty"`
	Duration string `json:"duration,omitempty"`
}

func newSilenceCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "silence",
		Short: "Hold notifications during a maintenance window",
		Long: "A silence holds the notifications of the incidents it matches while it lasts; medic still " +
			"records, triages and audits them.",
	}
	cmd.AddCommand(newSilenceAddCmd(streams), newSilenceListCmd(streams), newSilenceExpireCmd(streams))
	return cmd
}

// silenceAddOptions are the flags of medic silence add.
type silenceAddOptions struct {
	sf                              serverFlags
	asJSON                          bool
	dag, instance, severity, reason string
	duration, until                 string
}

// body checks the flags and builds the request; mistakes are usage errors.
func (o *silenceAddOptions) body() (*silenceBody, error) {
	b := &silenceBody{Dag: o.dag, Instance: o.instance, Severity: o.severity, Reason: o.reason}
	switch {
	case strings.TrimSpace(o.dag) == "":
		return nil, usageError{fmt.Errorf(`medic silence add needs --dag: a glob on the DAG id, such as 'finance_*', or '*' for every DAG`)}
	case strings.TrimSpace(o.reason) == "":
		return nil, usageError{fmt.Errorf("medic silence add needs --reason: say why, for the audit trail")}
	case o.severity != "" && !incident.Severity(o.severity).Valid():
		return nil, usageError{fmt.Errorf("--severity %q: want low, medium, high or critical", o.severity)}
	case o.duration == "" && o.until == "":
		return nil, usageError{fmt.Errorf("medic silence add needs --for (such as 2h) or --until (an RFC 3339 time)")}
	case o.duration != "" && o.until != "":
		return nil, usageError{fmt.Errorf("give --for or --until, not both")}
	case o.duration != "":
		d, err := time.ParseDuration(o.duration)
		if err != nil || d <= 0 {
			return nil, usageError{fmt.Errorf("--for %q: want a positive duration such as 2h or 90m", o.duration)}
		}
		b.Duration = d.String()
	default:
		t, err := time.Parse(time.RFC3339, o.until)
		if err != nil {
			return nil, usageError{fmt.Errorf("--until %q: want an RFC 3339 time such as 2026-05-01T06:00:00Z", o.until)}
		}
		b.EndsAt = t.Format(time.RFC3339)
	}
	return b, nil
}

func newSilenceAddCmd(streams IO) *cobra.Command {
	var o silenceAddOptions
	cmd := &cobra.Command{
		Use:   "add --dag GLOB [--instance I] [--severity S] --for D|--until T --reason R [--json]",
		Short: "Silence the notifications of matching incidents, from now",
		Long: "Silence the notifications of the incidents whose DAG id matches --dag (a glob: '*' matches every DAG), " +
			"optionally only on one Airflow instance and only at or below a severity, for a duration (--for 2h) or " +
			"until a time (--until 2026-05-01T06:00:00Z), at most 30 days. The silence is audited with your token's " +
			"name. Needs an operator token.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := o.body()
			if err != nil {
				return err
			}
			c, err := o.sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "POST", "/api/v1/silences", body, &raw); err != nil {
				return err
			}
			if o.asJSON {
				return writeRaw(streams.Out, raw)
			}
			var s incident.Silence
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode the silence: %w", err)
			}
			_, err = fmt.Fprintf(streams.Out, "%s silences %s until %s\n", s.ID, describeMatcher(s.Matcher), s.EndsAt.UTC().Format(time.RFC3339))
			return err
		},
	}
	o.sf.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.asJSON, "json", false, "print the API's JSON")
	f.StringVar(&o.dag, "dag", "", "glob on the DAG id, such as 'finance_*' ('*' for every DAG); required")
	f.StringVar(&o.instance, "instance", "", "only incidents of this Airflow instance")
	f.StringVar(&o.severity, "severity", "", "only incidents at or below this severity: low, medium, high or critical")
	f.StringVar(&o.duration, "for", "", "how long, from now, such as 2h or 90m")
	f.StringVar(&o.until, "until", "", "when the silence ends, an RFC 3339 time")
	f.StringVar(&o.reason, "reason", "", "why (recorded in the audit log); required")
	return cmd
}

// describeMatcher says in words what a silence holds.
func describeMatcher(m incident.SilenceMatcher) string {
	out := "dag " + m.DagGlob
	if m.Instance != "" {
		out += " on " + m.Instance
	}
	if m.Severity != "" {
		out += " at or below " + string(m.Severity)
	}
	return out
}

func newSilenceListCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "list [--all] [--json]",
		Short: "List the active silences, newest first",
		Long:  "List the silences holding notifications now, newest first; --all lists the ended and expired ones too.",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			path := "/api/v1/silences?active=true"
			if all {
				path = "/api/v1/silences"
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", path, nil, &raw); err != nil {
				return err
			}
			if asJSON {
				return writeRaw(streams.Out, raw)
			}
			var page struct {
				Silences []*incident.Silence `json:"silences"`
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				return fmt.Errorf("decode silences: %w", err)
			}
			return writeSilencesTable(streams, page.Silences, time.Now())
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().BoolVar(&all, "all", false, "list ended and expired silences too")
	return cmd
}

// silenceState names where a silence stands at now.
func silenceState(s *incident.Silence, now time.Time) string {
	switch {
	case s.ExpiredAt != nil && !now.Before(*s.ExpiredAt):
		return "expired"
	case !now.Before(s.EndsAt):
		return "ended"
	case now.Before(s.StartsAt):
		return "pending"
	}
	return "active"
}

func writeSilencesTable(streams IO, list []*incident.Silence, now time.Time) error {
	tw := tabwriter.NewWriter(streams.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tDAG\tINSTANCE\tSEVERITY\tSTARTS\tENDS\tCREATED BY\tREASON")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, silenceState(s, now), s.Matcher.DagGlob,
			orDash(s.Matcher.Instance), orDash(string(s.Matcher.Severity)), s.StartsAt.UTC().Format(time.RFC3339),
			s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy, oneLine(s.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.Err, "%d silences\n", len(list))
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a reason on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func newSilenceExpireCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "expire ID [--json]",
		Short: "End a silence now",
		Long: "End a silence now (see medic silence list for ids): the notifications it held resume. The expiry is " +
			"audited with your token's name. Needs an operator token.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			path := "/api/v1/silences/" + url.PathEscape(args[0]) + "/expire"
			if err := c.do(cmd.Context(), "POST", path, struct{}{}, &raw); err != nil {
				return err
			}
			if asJSON {
				return writeRaw(streams.Out, raw)
			}
			var s incident.Silence
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode silence %s: %w", args[0], err)
			}
			_, err = fmt.Fprintf(streams.Out, "%s expired: %s\n", s.ID, describeMatcher(s.Matcher))
			return err
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
