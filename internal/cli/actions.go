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

	"github.com/medic-sh/medic/internal/incident"
)

// killSwitch is the body of /api/v1/actions/*.
type killSwitch struct {
	On     bool      `json:"on"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// reasonBody is the body of the kill switch and approval decisions.
type reasonBody struct {
	Reason string `json:"reason"`
	// Params, on an approval only, replace the proposed action's
	// parameters.
	Params json.RawMessage `json:"params,omitempty"`
}

// parseParams checks that --params is a JSON object, as the API wants.
func parseParams(v string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	err := json.Unmarshal([]byte(v), &obj)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) || (err == nil && obj == nil):
		return nil, usageError{fmt.Errorf(`--params must be a JSON object, such as '{"conf": {"date": "2026-05-01"}}', not a JSON %s`, jsonKind(v))}
	case err != nil:
		return nil, usageError{fmt.Errorf(`--params is not valid JSON (%w): want an object, such as '{"conf": {"date": "2026-05-01"}}'`, err)}
	}
	return json.RawMessage(v), nil
}

// jsonKind names the kind of a valid JSON value that is not an object.
func jsonKind(v string) string {
	switch t := strings.TrimSpace(v); {
	case strings.HasPrefix(t, "["):
		return "array"
	case strings.HasPrefix(t, `"`):
		return "string"
	case t == "null":
		return "null"
	case t == "true" || t == "false":
		return "boolean"
	default:
		return "number"
	}
}

func newActionsCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{Use: "actions", Short: "Pause, resume or show medic's remediation actions (the kill switch)"}
	cmd.AddCommand(
		newKillSwitchCmd(streams, "pause", "Stop medic taking any action until resumed", true),
		newKillSwitchCmd(streams, "resume", "Let medic take actions again", false),
		newActionsStatusCmd(streams),
	)
	return cmd
}

// newKillSwitchCmd is medic actions pause (on) or resume.
func newKillSwitchCmd(streams IO, verb, short string, on bool) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
		reason string
	)
	cmd := &cobra.Command{
		Use:   verb + " [--reason R] [--json]",
		Short: short,
		Long:  short + ". The change is audited with your token's name. Needs an operator token.",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if on && strings.TrimSpace(reason) == "" {
				return usageError{fmt.Errorf("medic actions pause needs --reason: say why, for the audit trail")}
			}
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "POST", "/api/v1/actions/"+verb, reasonBody{Reason: reason}, &raw); err != nil {
				return err
			}
			return writeKillSwitch(streams, raw, asJSON)
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	help := "why (recorded in the audit log)"
	if on {
		help += "; required"
	}
	cmd.Flags().StringVar(&reason, "reason", "", help)
	return cmd
}

func newActionsStatusCmd(streams IO) *cobra.Command {
	var (
		sf     serverFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show whether medic's actions are paused",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", "/api/v1/actions/status", nil, &raw); err != nil {
				return err
			}
			return writeKillSwitch(streams, raw, asJSON)
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func writeKillSwitch(streams IO, raw json.RawMessage, asJSON bool) error {
	if asJSON {
		return writeRaw(streams.Out, raw)
	}
	var k killSwitch
	if err := json.Unmarshal(raw, &k); err != nil {
		return fmt.Errorf("decode the kill switch: %w", err)
	}
	state := "running: medic may take actions"
	if k.On {
		state = "paused: medic takes no action"
	}
	if _, err := fmt.Fprintln(streams.Out, state); err != nil {
		return err
	}
	if !k.At.IsZero() {
		line := fmt.Sprintf("set by %s at %s", k.By, k.At.UTC().Format(time.RFC3339))
		if k.Reason != "" {
			line += ": " + k.Reason
		}
		fmt.Fprintln(streams.Err, line)
	}
	return nil
}

// newDecideCmd is medic approve (approve) or medic reject.
func newDecideCmd(streams IO, approve bool) *cobra.Command {
	verb, short := "reject", "Reject a proposed action"
	if approve {
		verb, short = "approve", "Approve a proposed action"
	}
	var (
		sf     serverFlags
		asJSON bool
		reason string
		params string
	)
	use, long := verb+" ID [--reason R] [--json]", ""
	if approve {
		use = verb + " ID [--reason R] [--params JSON] [--json]"
		long = " --params replaces the proposed action's parameters with a JSON object (an edited trigger conf: " +
			`'{"conf": {...}}'), which medic checks again before it acts.`
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + " that awaits a person, as your token's name and role (see medic approvals list). " +
			"An approval that expired or was already decided is refused; in production nobody may approve " +
			"their own request." + long + " Needs an operator token.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !approve && strings.TrimSpace(reason) == "" {
				return usageError{fmt.Errorf("medic reject needs --reason: say why, for the audit trail")}
			}
			body := reasonBody{Reason: reason}
			if cmd.Flags().Changed("params") {
				p, err := parseParams(params)
				if err != nil {
					return err
				}
				body.Params = p
			}
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			path := "/api/v1/approvals/" + url.PathEscape(args[0]) + "/" + verb
			if err := c.do(cmd.Context(), "POST", path, body, &raw); err != nil {
				return err
			}
			if asJSON {
				return writeRaw(streams.Out, raw)
			}
			var a incident.Approval
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("decode approval %s: %w", args[0], err)
			}
			_, err = fmt.Fprintf(streams.Out, "%s %s: %s on incident %s\n", a.ID, a.Status, a.Action, a.IncidentID)
			return err
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	help := "why (recorded in the audit log)"
	if !approve {
		help += "; required"
	}
	cmd.Flags().StringVar(&reason, "reason", "", help)
	if approve {
		cmd.Flags().StringVar(&params, "params", "", `the action's parameters as a JSON object, replacing the proposed ones (e.g. '{"conf": {"date": "2026-05-01"}}')`)
	}
	return cmd
}

func newApprovalsCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{Use: "approvals", Short: "List actions proposed for a person's approval"}
	cmd.AddCommand(newApprovalsListCmd(streams))
	return cmd
}

// approvalsListOptions are the flags of medic approvals list.
type approvalsListOptions struct {
	sf                 serverFlags
	asJSON             bool
	status, incidentID string
	limit              int
}

func newApprovalsListCmd(streams IO) *cobra.Command {
	var o approvalsListOptions
	cmd := &cobra.Command{
		Use:   "list [--status S] [--incident ID] [--limit N] [--json]",
		Short: "List approvals, newest first",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			c, err := o.sf.client(streams)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", path, nil, &raw); err != nil {
				return err
			}
			if o.asJSON {
				return writeRaw(streams.Out, raw)
			}
			var page struct {
				Approvals []*incident.Approval `json:"approvals"`
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				return fmt.Errorf("decode approvals: %w", err)
			}
			return writeApprovalsTable(streams, page.Approvals)
		},
	}
	o.sf.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.asJSON, "json", false, "print the API's JSON")
	f.StringVar(&o.status, "status", "", "only approvals in this status: pending, approved, rejected, expired or executed")
	f.StringVar(&o.incidentID, "incident", "", "only approvals for this incident")
	f.IntVar(&o.limit, "limit", 0, "at most this many (default 50, at most 500)")
	return cmd
}

func (o *approvalsListOptions) path() (string, error) {
	q := url.Values{}
	if o.status != "" {
		if !incident.ApprovalStatus(o.status).Valid() {
			return "", usageError{fmt.Errorf("--status %q: want pending, approved, rejected, expired or executed", o.status)}
		}
		q.Set("status", o.status)
	}
	if o.incidentID != "" {
		q.Set("incident_id", o.incidentID)
	}
	if o.limit < 0 {
		return "", usageError{fmt.Errorf("--limit %d: want a number from 1 to 500", o.limit)}
	}
	if o.limit > 0 {
		q.Set("limit", strconv.Itoa(o.limit))
	}
	path := "/api/v1/approvals"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path, nil
}

func writeApprovalsTable(streams IO, list []*incident.Approval) error {
	tw := tabwriter.NewWriter(streams.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tACTION\tINCIDENT\tREQUESTED BY\tEXPIRES\tDECIDED BY")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.Action, a.IncidentID, a.RequestedBy,
			a.ExpiresAt.UTC().Format(time.RFC3339), a.DecidedBy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(streams.Err, "%d approvals\n", len(list))
	return nil
}
