package investigate

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/triage"
	"github.com/medic-sh/medic/internal/warehouse"
)

// profilerLogLines is how much of the log's tail the query-profiler reads
// for the error text; the tables and SQL of a failure are in its last lines.
const profilerLogLines = 200

// errorTrailer is how many lines after the error block still belong to the
// error.
const errorTrailer = 8

// maxEvidenceLines bounds the evidence lines kept per profile.
const maxEvidenceLines = 8

// sqlInError finds the statement SQLAlchemy and the DB-API drivers quote in
// an error: "[SQL: INSERT INTO ...]".
var sqlInError = regexp.MustCompile(`(?s)\[SQL: (.+?)\]\s*(?:\n|\(|$)`)

// maxErrorSQL bounds the SQL taken from an error.
const maxErrorSQL = 8000

// QueryProfiler is the query-profiler's engine: it names the tables the
// failed task touched from its error (warehouse.Targets) and asks every
// configured warehouse what it was doing at the failure time. Airflow does
// not expose a task's rendered SQL through the REST API, so the SQL comes
// from the error text only. With no warehouse configured it says so, which
// is a complete answer.
type QueryProfiler struct {
	connectors []warehouse.Connector
	instances  triage.Instances
}

var _ Engine = (*QueryProfiler)(nil)

// NewQueryProfiler returns the query-profiler engine over connectors (none
// is fine) reading logs through instances.
func NewQueryProfiler(connectors []warehouse.Connector, instances triage.Instances) *QueryProfiler {
	return &QueryProfiler{connectors: connectors, instances: instances}
}

// Spec implements Engine.
func (*QueryProfiler) Spec() agents.EngineSpec {
	return agents.EngineSpec{Role: agents.RoleSpecialist, Tools: []string{agents.ToolTaskLog, agents.ToolExtractErrors, agents.ToolWarehouse}}
}

// Run implements Engine.
func (e *QueryProfiler) Run(ctx context.Context, t *Task) (*Result, error) {
	if len(e.connectors) == 0 {
		res := &Result{Summary: "no warehouse configured", Warehouse: &WarehouseReport{}}
		return res, t.Report.Finding(ctx, &incident.Finding{
			Step: "warehouse", Kind: "warehouse", Summary: "no warehouse configured (warehouse.connections is empty): nothing to profile",
			Data: mustJSON(res.Warehouse),
		})
	}
	res := &Result{Warehouse: &WarehouseReport{Configured: true}}
	errorText, note := e.errorText(ctx, t)
	if note != "" {
		res.Incomplete = append(res.Incomplete, note)
	}
	sql := ""
	if m := sqlInError.FindStringSubmatch(errorText); m != nil && len(m[1]) <= maxErrorSQL {
		sql = m[1]
	}
	targets := warehouse.Targets(sql, errorText)
	res.Warehouse.Targets = targets
	t.Report.Progress(ctx, "tables named by the error: "+tableList(targets))
	target := warehouse.Target{Tables: targets, SQL: sql, ErrorText: errorText}
	if t.Brief.FailedAt != nil {
		target.FailedAt = *t.Brief.FailedAt
	}
	for i, c := range e.connectors {
		if i == t.Agent.MaxSteps {
			res.Incomplete = append(res.Incomplete, fmt.Sprintf("%d warehouse(s) not profiled (max_steps %d)", len(e.connectors)-i, t.Agent.MaxSteps))
			break
		}
		t.Report.Progress(ctx, "profiling "+c.Name())
		p, err := c.Profile(ctx, target)
		if err != nil && ctx.Err() != nil {
			return res, err
		}
		if p == nil {
			p = &warehouse.Profile{Warehouse: c.Name(), Kind: c.Kind()}
		}
		ws := summarizeProfile(p)
		if err != nil {
			res.Incomplete = append(res.Incomplete, fmt.Sprintf("%s: %v", c.Name(), err))
		}
		res.Warehouse.Profiles = append(res.Warehouse.Profiles, ws)
		f := &incident.Finding{Step: "profile:" + c.Name(), Kind: "warehouse_profile", Summary: profileLine(ws), Data: mustJSON(p)}
		for _, l := range ws.Lines {
			f.Evidence = append(f.Evidence, incident.Evidence{Source: "warehouse", Ref: c.Name(), Text: l})
		}
		if err != nil {
			f.Error = err.Error()
		}
		if err := t.Report.Finding(ctx, f); err != nil {
			return res, err
		}
		res.Evidence = append(res.Evidence, f.Evidence...)
	}
	lines := make([]string, len(res.Warehouse.Profiles))
	for i, ws := range res.Warehouse.Profiles {
		lines[i] = profileLine(ws)
	}
	res.Summary = strings.Join(lines, "; ")
	return res, nil
}

// errorText is the failure's error: the reported exception and the root
// error block of the log's tail, redacted. A log that cannot be read leaves
// the reported exception alone, and a note.
func (e *QueryProfiler) errorText(ctx context.Context, t *Task) (string, string) {
	parts := []string{}
	if t.Brief.ReportedError != "" {
		parts = append(parts, logscan.Redact(t.Brief.ReportedError))
	}
	af, ok := e.instances.Instance(t.Brief.Instance)
	if !ok || t.Brief.TaskID == "" {
		return strings.Join(parts, "\n"), "no log to read: the task or its Airflow instance is unknown"
	}
	lg, err := af.TaskLog(ctx, t.Brief.DagID, t.Brief.RunID, t.Brief.TaskID, max(1, t.Brief.TryNumber), airflow.LogOptions{MaxLines: profilerLogLines})
	if err != nil {
		return strings.Join(parts, "\n"), fmt.Sprintf("log of %s try %d not read (%v): tables come from the reported error only", t.Brief.TaskID, t.Brief.TryNumber, err)
	}
	lines := strings.Split(strings.TrimRight(logscan.Redact(lg.Text), "\n"), "\n")
	if root := extract.Extract(lines).Root; root != nil && root.End > root.Start {
		// Drivers print the statement after the message (SQLAlchemy's
		// "[SQL: ...]"), just past the block.
		parts = append(parts, strings.Join(lines[max(0, root.Start):min(root.End+errorTrailer, len(lines))], "\n"))
	} else {
		parts = append(parts, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
	return strings.Join(parts, "\n"), ""
}

func tableList(ts []warehouse.TableName) string {
	if len(ts) == 0 {
		return "none (the warehouse's heaviest statements are read instead)"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, ", ")
}

// summarizeProfile keeps what bears on the failure: blocking and lock waits
// touching the targets first, then timeouts, long-running queries and
// table statistics.
func summarizeProfile(p *warehouse.Profile) WarehouseSummary {
	ws := WarehouseSummary{
		Warehouse: p.Warehouse, Kind: string(p.Kind), Blocking: len(p.Blocking), LockWaits: len(p.LockWaits),
		LongRunning: len(p.LongRunning), Notes: p.Notes,
	}
	add := func(s string) {
		if s != "" && len(ws.Lines) < maxEvidenceLines {
			ws.Lines = append(ws.Lines, s)
		}
	}
	for _, b := range p.Blocking {
		if b.TouchesTarget {
			add(b.Evidence)
		}
	}
	for _, t := range p.Timeouts {
		ws.Timeouts = append(ws.Timeouts, string(t.Kind))
		add(t.Evidence)
	}
	for _, l := range p.LockWaits {
		if l.TouchesTarget {
			add(l.Evidence)
		}
	}
	for _, s := range p.LongRunning {
		add(s.Evidence)
	}
	for _, t := range p.Tables {
		add(t.Evidence)
	}
	for _, e := range p.Errors {
		ws.Errors = append(ws.Errors, e.Error())
	}
	return ws
}

func profileLine(ws WarehouseSummary) string {
	s := fmt.Sprintf("%s: %d blocking pair(s), %d lock wait(s), %d long-running", ws.Warehouse, ws.Blocking, ws.LockWaits, ws.LongRunning)
	if len(ws.Timeouts) > 0 {
		s += ", " + strings.Join(ws.Timeouts, ", ")
	}
	if len(ws.Errors) > 0 {
		s += fmt.Sprintf(" (%d section(s) unread)", len(ws.Errors))
	}
	return s
}
