package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/triage"
)

// incidentDetail is GET /api/v1/incidents/{id}.
type incidentDetail struct {
	Incident *incident.Incident       `json:"incident"`
	Events   []*incident.FailureEvent `json:"events"`
	Session  *incident.Session        `json:"session"`
	Findings []*incident.Finding      `json:"findings"`
	// Remediation is absent from a medic older than remediation.
	Remediation *incidentRemediation `json:"remediation"`
}

// report assembles the text report of d: the findings of the whole
// investigation and, once composed, the commander's report.
func (d *incidentDetail) report(base string) (*report.Report, error) {
	r := report.New(d.Incident, d.Events, d.Findings, base)
	if err := r.SetInvestigation(d.Session); err != nil {
		return nil, err
	}
	return r, nil
}

// writeText prints the text report of d followed by its remediation; the
// link to the incident closes it.
func (d *incidentDetail) writeText(w io.Writer, base string) error {
	r, err := d.report(base)
	if err != nil {
		return err
	}
	link := r.Link
	r.Link = ""
	if err := report.WriteText(w, r); err != nil {
		return err
	}
	if err := writeRemediation(w, d.Remediation); err != nil {
		return err
	}
	if link == "" {
		return nil
	}
	_, err = fmt.Fprintf(w, "  %s\n", link)
	return err
}

// incidentPage is GET /api/v1/incidents.
type incidentPage struct {
	Incidents  []*incident.Incident `json:"incidents"`
	NextCursor string               `json:"next_cursor"`
	Total      int                  `json:"total"`
}

func newIncidentsCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{Use: "incidents", Aliases: []string{"incident"}, Short: "List and show incidents, and say what fixed them"}
	cmd.AddCommand(newIncidentsListCmd(streams), newIncidentsShowCmd(streams), newIncidentsFeedbackCmd(streams))
	return cmd
}

func newIncidentsListCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
		states []string
		dag    string
		limit  int
		cursor string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, s := range states {
				q.Add("state", s)
			}
			if dag != "" {
				q.Set("dag_id", dag)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			path := "/api/v1/incidents"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			if asJSON {
				return c.printJSON(cmd.Context(), "GET", path, nil, streams.Out)
			}
			var page incidentPage
			if err := c.do(cmd.Context(), "GET", path, nil, &page); err != nil {
				return err
			}
			return writeIncidentTable(streams, page)
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only incidents in these states (repeatable)")
	cmd.Flags().StringVar(&dag, "dag", "", "only incidents of this DAG")
	cmd.Flags().IntVar(&limit, "limit", 0, "page size (default 50, at most 500)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "cursor of the next page, from a previous list")
	return cmd
}

func writeIncidentTable(streams IO, page incidentPage) error {
	tw := tabwriter.NewWriter(streams.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tDAG\tTASK\tFAILURES\tCREATED\tSUMMARY")
	for _, in := range page.Incidents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", in.ID, in.State, in.Severity, in.DagID, in.FirstTaskID,
			in.EventCount, in.CreatedAt.UTC().Format(time.DateTime), clipText(in.Summary, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.Err, "%d of %d incident(s)", len(page.Incidents), page.Total)
	if page.NextCursor != "" {
		fmt.Fprintf(streams.Err, "; next page: --cursor %s", page.NextCursor)
	}
	fmt.Fprintln(streams.Err)
	return nil
}

func newIncidentsShowCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one incident with its triage report: diagnosis, evidence, similar past failures and remediation",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			path := "/api/v1/incidents/" + url.PathEscape(args[0])
			if asJSON {
				return c.printJSON(cmd.Context(), "GET", path, nil, streams.Out)
			}
			var d incidentDetail
			if err := c.do(cmd.Context(), "GET", path, nil, &d); err != nil {
				return err
			}
			return d.writeText(streams.Out, c.base)
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// feedbackAccepted is POST /api/v1/incidents/{id}/feedback's answer.
type feedbackAccepted struct {
	IncidentID string         `json:"incident_id"`
	Record     *memory.Record `json:"record"`
}

func newIncidentsFeedbackCmd(streams IO) *cobra.Command {
	var (
		sf                                      serverFlags
		asJSON                                  bool
		outcome, action, verdict, label, reason string
	)
	cmd := &cobra.Command{
		Use:   "feedback ID [--outcome fixed|failed] [--action A] [--verdict up|down] [--label L] [--reason R]",
		Short: "Tell medic what was done about an incident's failure and whether it worked",
		Long: "Record on the failure memory what was done about an incident's failure (--action, from the " +
			"remediation vocabulary), how it turned out (--outcome), what you think of the diagnosis (--verdict), " +
			"or the right failure class (--label, which counts as a thumbs-up). The next failure like it is " +
			"diagnosed with this knowledge. Needs an operator token.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outcome == "" && action == "" && verdict == "" && label == "" {
				return usageError{errors.New("nothing to record: give at least one of --outcome, --action, --verdict and --label")}
			}
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			body := map[string]string{}
			for k, v := range map[string]string{"outcome": outcome, "action": action, "verdict": verdict, "label": label, "reason": reason} {
				if v != "" {
					body[k] = v
				}
			}
			path := "/api/v1/incidents/" + url.PathEscape(args[0]) + "/feedback"
			if asJSON {
				return c.printJSON(cmd.Context(), "POST", path, body, streams.Out)
			}
			var acc feedbackAccepted
			if err := c.do(cmd.Context(), "POST", path, body, &acc); err != nil {
				return err
			}
			if acc.Record == nil {
				return fmt.Errorf("POST %s: the answer holds no record", path)
			}
			r := acc.Record
			_, err = fmt.Fprintf(streams.Out, "feedback recorded for incident %s: %s, %s, trust %.2f (%d fixed, %d failed, %d up, %d down)\n",
				acc.IncidentID, r.Label, triage.Resolution(r.Action, r.Outcome), r.Trust, r.Fixed, r.Failed, r.Ups, r.Downs)
			return err
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().StringVar(&outcome, "outcome", "", "how the action turned out: fixed or failed")
	cmd.Flags().StringVar(&action, "action", "", "what was done, e.g. retry, retry_with_backoff, fix_permissions")
	cmd.Flags().StringVar(&verdict, "verdict", "", "your verdict on the diagnosis: up or down")
	cmd.Flags().StringVar(&label, "label", "", "the right failure class, e.g. PERMISSION")
	cmd.Flags().StringVar(&reason, "reason", "", "why, in a few words (logged)")
	return cmd
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
