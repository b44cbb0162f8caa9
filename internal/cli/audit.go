package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
)

// auditPage is GET /api/v1/audit.
type auditPage struct {
	Entries     []*incident.AuditEntry `json:"entries"`
	NextAfterID int64                  `json:"next_after_id"`
}

func newAuditCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "List the audit log and check its hash chain"}
	cmd.AddCommand(newAuditListCmd(streams), newAuditVerifyCmd(streams))
	return cmd
}

// auditListOptions are the flags of medic audit list.
type auditListOptions struct {
	sf                                    serverFlags
	asJSON                                bool
	incidentID, actor, action, since, til string
	after                                 int64
	limit                                 int
}

func newAuditListCmd(streams IO) *cobra.Command {
	var o auditListOptions
	cmd := &cobra.Command{
		Use:   "list [--incident ID] [--actor A] [--action PREFIX] [--since T] [--until T] [--limit N] [--json]",
		Short: "List audit entries, oldest first",
		Long: "List what medic and the people using it did, oldest first, filtered. --since and --until take an " +
			"RFC 3339 time or a duration back from now (24h). Needs an operator token.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := o.path(time.Now())
			if err != nil {
				return err
			}
			c, err := o.sf.client(streams)
			if err != nil {
				return err
			}
			if o.asJSON {
				return c.printJSON(cmd.Context(), "GET", path, nil, streams.Out)
			}
			var page auditPage
			if err := c.do(cmd.Context(), "GET", path, nil, &page); err != nil {
				return err
			}
			return writeAuditTable(streams, page)
		},
	}
	o.sf.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.asJSON, "json", false, "print the API's JSON")
	f.StringVar(&o.incidentID, "incident", "", "only entries about this incident")
	f.StringVar(&o.actor, "actor", "", "only entries by this actor (a token name, medic, ...)")
	f.StringVar(&o.action, "action", "", "only actions starting with this, e.g. incident. or memory.feedback")
	f.StringVar(&o.since, "since", "", "only entries at or after this time (RFC 3339, or a duration such as 24h)")
	f.StringVar(&o.til, "until", "", "only entries before this time (RFC 3339, or a duration such as 1h)")
	f.Int64Var(&o.after, "after", 0, "only entries after this id: the next page of a previous list")
	f.IntVar(&o.limit, "limit", 0, "page size (default 50, at most 500)")
	return cmd
}

// path builds the request, checking the flags first.
func (o *auditListOptions) path(now time.Time) (string, error) {
	q := url.Values{}
	for name, v := range map[string]string{"incident_id": o.incidentID, "actor": o.actor, "action": o.action} {
		if v != "" {
			q.Set(name, v)
		}
	}
	for _, tf := range []struct{ flag, param, v string }{{"--since", "since", o.since}, {"--until", "until", o.til}} {
		if tf.v == "" {
			continue
		}
		t, err := parseWhen(tf.v, now)
		if err != nil {
			return "", usageError{fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-05-01T00:00:00Z or a duration such as 24h", tf.flag, tf.v)}
		}
		q.Set(tf.param, t.Format(time.RFC3339Nano))
	}
	if o.after < 0 {
		return "", usageError{fmt.Errorf("--after %d: want an entry id", o.after)}
	}
	if o.after > 0 {
		q.Set("after_id", strconv.FormatInt(o.after, 10))
	}
	if o.limit < 0 {
		return "", usageError{fmt.Errorf("--limit %d: want a page size from 1 to 500", o.limit)}
	}
	if o.limit > 0 {
		q.Set("limit", strconv.Itoa(o.limit))
	}
	path := "/api/v1/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path, nil
}

// parseWhen reads an RFC 3339 time or a duration back from now.
func parseWhen(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t.UTC(), err
}

func writeAuditTable(streams IO, page auditPage) error {
	tw := tabwriter.NewWriter(streams.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tACTOR\tACTION\tINCIDENT\tDETAIL")
	for _, e := range page.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format(time.RFC3339), e.Actor, e.Action,
			e.IncidentID, clipText(string(e.Detail), 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.Err, "%d audit entries", len(page.Entries))
	if page.NextAfterID != 0 {
		fmt.Fprintf(streams.Err, "; next page: --after %d", page.NextAfterID)
	}
	fmt.Fprintln(streams.Err)
	return nil
}

// errChainBroken is the failure of medic audit verify on a broken chain.
var errChainBroken = errors.New("the audit chain is broken")

func newAuditVerifyCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify [--json]",
		Short: "Check the audit log's hash chain; exit 1 if it is broken",
		Long: "Check every entry of the audit log: its content still hashes to its stored hash, and it links to " +
			"the entry before it. Exits 0 when the chain is intact and 1 when it is broken, naming the first " +
			"broken entry and why. Needs an admin token.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			const path = "/api/v1/audit/verify"
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", path, nil, &raw); err != nil {
				return err
			}
			var rep audit.Report
			if err := json.Unmarshal(raw, &rep); err != nil {
				return fmt.Errorf("GET %s: decode answer: %w", path, err)
			}
			if asJSON {
				if _, err := fmt.Fprintln(streams.Out, strings.TrimSpace(string(raw))); err != nil {
					return err
				}
			} else if err := writeAuditReport(streams, &rep); err != nil {
				return err
			}
			if !rep.Intact {
				return withCode(ExitError, fmt.Errorf("%w at entry %d (%s): %s", errChainBroken, rep.BrokenID, rep.Problem, rep.Reason))
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON report")
	return cmd
}

// writeAuditReport prints an intact chain's summary; a broken one is the
// command's error, on stderr.
func writeAuditReport(streams IO, rep *audit.Report) error {
	var err error
	switch {
	case !rep.Intact:
	case rep.Entries == 0:
		_, err = fmt.Fprintln(streams.Out, "audit chain intact: no entries yet")
	default:
		_, err = fmt.Fprintf(streams.Out, "audit chain intact: %d entries (ids %d to %d), head %s\n",
			rep.Entries, rep.FirstID, rep.LastID, rep.LastHash)
	}
	return err
}
