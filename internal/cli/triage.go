package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
)

// triageAccepted is POST /api/v1/triage's answer.
type triageAccepted struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
	Created    bool   `json:"created"`
}

func newTriageCmd(streams IO) *cobra.Command {
	var (
		sf                       serverFlags
		asJSON, wait             bool
		instance, dag, run, task string
		timeout                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "triage --dag DAG --run RUN [--task TASK]",
		Short: "Ask medic to triage a DAG run (returns at once with the session id)",
		Long: "Ask a running medic to triage a DAG run. It returns as soon as medic accepted the request, " +
			"with the incident and session ids; --wait blocks until triage finished and prints the report.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dag == "" || run == "" {
				return usageError{errors.New("--dag and --run are required")}
			}
			c, err := sf.client(streams)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var acc triageAccepted
			body := map[string]string{"instance": instance, "dag_id": dag, "run_id": run, "task_id": task}
			if err := c.do(ctx, "POST", "/api/v1/triage", body, &acc); err != nil {
				return err
			}
			if !wait {
				if asJSON {
					return json.NewEncoder(streams.Out).Encode(acc)
				}
				_, err := fmt.Fprintf(streams.Out, "triage accepted: incident %s, session %s\n", acc.IncidentID, acc.SessionID)
				return err
			}
			if err := waitForSession(ctx, c, acc, timeout); err != nil {
				if ctx.Err() != nil {
					fmt.Fprintf(streams.Err, "stopped waiting; medic goes on triaging: see `medic incidents show %s`\n", acc.IncidentID)
				}
				return err
			}
			path := "/api/v1/incidents/" + url.PathEscape(acc.IncidentID)
			if asJSON {
				// Exactly what the API answers, like incidents show --json.
				var raw json.RawMessage
				if err := c.do(ctx, "GET", path, nil, &raw); err != nil {
					return err
				}
				_, err := fmt.Fprintln(streams.Out, strings.TrimSpace(string(raw)))
				return err
			}
			var d incidentDetail
			if err := c.do(ctx, "GET", path, nil, &d); err != nil {
				return err
			}
			return report.WriteText(streams.Out, report.New(d.Incident, d.Events, d.Findings, c.base))
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&instance, "instance", "", "Airflow instance name (default: the first configured)")
	cmd.Flags().StringVar(&dag, "dag", "", "DAG id (required)")
	cmd.Flags().StringVar(&run, "run", "", "DAG run id (required)")
	cmd.Flags().StringVar(&task, "task", "", "focus on this task")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for triage to finish and print the report")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long --wait waits")
	return cmd
}

// waitForSession polls the triage session until it is final or timeout
// passed.
func waitForSession(ctx context.Context, c *apiClient, acc triageAccepted, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ss incident.Session
		if err := c.do(ctx, "GET", "/api/v1/sessions/"+url.PathEscape(acc.SessionID), nil, &ss); err != nil {
			return err
		}
		if ss.Status.Final() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("triage session %s still %s after %s: medic goes on with it; see `medic incidents show %s` later, or pass a longer --timeout",
				acc.SessionID, ss.Status, timeout, acc.IncidentID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
