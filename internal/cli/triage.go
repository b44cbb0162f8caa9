package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/incident"
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
		asJSON, wait, follow     bool
		instance, dag, run, task string
		timeout                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "triage --dag DAG --run RUN [--task TASK]",
		Short: "Ask medic to triage a DAG run (returns at once with the session id)",
		Long: "Ask a running medic to triage a DAG run. It returns as soon as medic accepted the request, " +
			"with the incident and session ids; --wait blocks until triage finished and prints the report; " +
			"--follow prints the investigation's progress live, one line per event, and exits 0 when it completed, " +
			"1 when it ended failed, partial or timed out.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case dag == "" || run == "":
				return usageError{errors.New("--dag and --run are required")}
			case wait && follow:
				return usageError{errors.New("--wait and --follow do not go together: --follow prints the progress, --wait the report")}
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
			switch {
			case follow:
				fmt.Fprintf(streams.Err, "triage accepted: incident %s, session %s\n", acc.IncidentID, acc.SessionID)
				return followTriage(ctx, c, acc, streams, asJSON)
			case !wait:
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
				return c.printJSON(ctx, "GET", path, nil, streams.Out)
			}
			var d incidentDetail
			if err := c.do(ctx, "GET", path, nil, &d); err != nil {
				return err
			}
			return d.writeText(streams.Out, c.base)
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with --follow: one event object per line)")
	cmd.Flags().StringVar(&instance, "instance", "", "Airflow instance name (default: the first configured)")
	cmd.Flags().StringVar(&dag, "dag", "", "DAG id (required)")
	cmd.Flags().StringVar(&run, "run", "", "DAG run id (required)")
	cmd.Flags().StringVar(&task, "task", "", "focus on this task")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for triage to finish and print the report")
	cmd.Flags().BoolVar(&follow, "follow", false, "print the investigation's progress live until it ends")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long --wait waits")
	return cmd
}

// waitForSession polls the triage session until it is final and the
// incident records its triage as complete (the commander finishes its
// session with the composed report just before it completes the incident),
// or timeout passed.
func waitForSession(ctx context.Context, c *apiClient, acc triageAccepted, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ss incident.Session
		if err := c.do(ctx, "GET", "/api/v1/sessions/"+url.PathEscape(acc.SessionID), nil, &ss); err != nil {
			return err
		}
		if ss.Status.Final() {
			var d incidentDetail
			if err := c.do(ctx, "GET", "/api/v1/incidents/"+url.PathEscape(acc.IncidentID), nil, &d); err != nil {
				return err
			}
			if d.Incident != nil && d.Incident.Decided() {
				return nil
			}
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

// streamEnd is the data of the event that ends a session's stream.
type streamEnd struct {
	SessionID string                 `json:"session_id"`
	Status    incident.SessionStatus `json:"status"`
}

// Reconnection after a dropped event stream.
const (
	followRetryMin = 250 * time.Millisecond
	followRetryMax = 10 * time.Second
	// followMaxDrops is how many times in a row the stream may drop without
	// delivering an event before following gives up.
	followMaxDrops = 8
)

// followTriage prints the triage session's events until its stream ends,
// then says how it ended: nil when it completed, an error (exit 1) when it
// failed, timed out or only partly succeeded.
func followTriage(ctx context.Context, c *apiClient, acc triageAccepted, streams IO, asJSON bool) error {
	status, err := followSession(ctx, c, acc.SessionID, streams, asJSON)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(streams.Err, "stopped following; medic goes on triaging: see `medic incidents show %s`\n", acc.IncidentID)
		}
		return err
	}
	if status != incident.SessionCompleted {
		return withCode(ExitError, fmt.Errorf("triage session %s ended %s: see `medic incidents show %s` for what is missing",
			acc.SessionID, status, acc.IncidentID))
	}
	fmt.Fprintf(streams.Err, "triage completed: see `medic incidents show %s`\n", acc.IncidentID)
	return nil
}

// followSession prints the events of a session tree as they happen, one
// line each (one JSON object each with asJSON), and returns the session's
// final status once the server ends the stream. A dropped connection is
// resumed after the last event printed, so nothing is printed twice.
func followSession(ctx context.Context, c *apiClient, sessionID string, streams IO, asJSON bool) (incident.SessionStatus, error) {
	path := "/api/v1/sessions/" + url.PathEscape(sessionID) + "/events"
	var (
		lastID string
		end    *streamEnd
		drops  int
	)
	delay := followRetryMin
	onEvent := func(ev sseEvent) error {
		if ev.Event == "end" {
			end = &streamEnd{}
			if err := json.Unmarshal([]byte(ev.Data), end); err != nil {
				return fmt.Errorf("GET %s: end of stream: %w", path, err)
			}
			return nil
		}
		var se incident.SessionEvent
		if err := json.Unmarshal([]byte(ev.Data), &se); err != nil {
			return fmt.Errorf("GET %s: event %s: %w", path, ev.ID, err)
		}
		if ev.ID != "" {
			lastID = ev.ID
		}
		drops = 0
		if asJSON {
			_, err := fmt.Fprintln(streams.Out, strings.TrimSpace(ev.Data))
			return err
		}
		_, err := fmt.Fprintln(streams.Out, eventLine(&se))
		return err
	}
	for {
		retryAfter, retry, err := c.stream(ctx, path, lastID, onEvent)
		switch {
		case end != nil:
			return end.Status, nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		case !retry:
			return "", err
		}
		if retryAfter > 0 {
			delay = min(max(retryAfter, followRetryMin), followRetryMax)
		}
		if drops++; drops >= followMaxDrops {
			return "", withCode(ExitUnreachable, fmt.Errorf("lost the event stream of session %s %d times in a row: %w; "+
				"medic may still be triaging: see `medic incidents show` later", sessionID, followMaxDrops, err))
		}
		cause := "the server ended it"
		if err != nil {
			cause = err.Error()
		}
		fmt.Fprintf(streams.Err, "event stream interrupted (%s); reconnecting\n", cause)
		wait := min(delay<<(drops-1), followRetryMax)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
	}
}

// eventLine renders an event for a terminal: local time, agent, kind,
// message.
func eventLine(e *incident.SessionEvent) string {
	return fmt.Sprintf("%s %-18s  %-8s  %s", e.At.Local().Format("15:04:05.000"), printable(e.Agent), e.Kind, printable(e.Message))
}

// printable keeps a server's text from steering the terminal: control
// characters (escape sequences, carriage returns, newlines) become spaces
// or U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == utf8.RuneError:
			return utf8.RuneError
		}
		return r
	}, s)
}
