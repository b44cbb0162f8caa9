package airflow

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TaskInstance is one task in one run (one try of it, for ListTaskTries).
type TaskInstance struct {
	DagID     string
	RunID     string
	TaskID    string
	MapIndex  int // -1 for unmapped tasks
	TryNumber int
	MaxTries  int
	State     string // "" for no state
	Operator  string
	Hostname  string
	Pool      string
	Queue     string
	StartDate *time.Time
	EndDate   *time.Time
	Duration  *float64 // seconds
}

// TaskInstanceRef names a task instance affected by a clear.
type TaskInstanceRef struct {
	DagID  string
	RunID  string
	TaskID string
}

// ClearRequest selects the task instances ClearTaskInstances resets.
type ClearRequest struct {
	RunID             string   // required: medic never clears across runs
	TaskIDs           []string // empty: every task of the run (subject to OnlyFailed)
	OnlyFailed        bool
	IncludeDownstream bool
	DryRun            bool // list what would be cleared, change nothing
}

// wireTaskInstance covers both TaskInstance (2.x) and TaskInstanceResponse /
// TaskInstanceHistoryResponse (3.x): the field names agree.
type wireTaskInstance struct {
	DagID        string     `json:"dag_id"`
	RunID        string     `json:"dag_run_id"`
	TaskID       string     `json:"task_id"`
	MapIndex     *int       `json:"map_index"`
	TryNumber    jsonInt    `json:"try_number"`
	MaxTries     jsonInt    `json:"max_tries"`
	State        nullString `json:"state"`
	Operator     nullString `json:"operator"`
	OperatorName nullString `json:"operator_name"`
	Hostname     nullString `json:"hostname"`
	Pool         nullString `json:"pool"`
	Queue        nullString `json:"queue"`
	StartDate    jsonTime   `json:"start_date"`
	EndDate      jsonTime   `json:"end_date"`
	Duration     *float64   `json:"duration"`
}

func (w *wireTaskInstance) domain() TaskInstance {
	ti := TaskInstance{
		DagID: w.DagID, RunID: w.RunID, TaskID: w.TaskID, MapIndex: -1,
		TryNumber: int(w.TryNumber), MaxTries: int(w.MaxTries), State: string(w.State),
		Operator: string(w.Operator), Hostname: string(w.Hostname), Pool: string(w.Pool),
		Queue: string(w.Queue), StartDate: w.StartDate.t, EndDate: w.EndDate.t, Duration: w.Duration,
	}
	if w.MapIndex != nil {
		ti.MapIndex = *w.MapIndex
	}
	if ti.Operator == "" {
		ti.Operator = string(w.OperatorName)
	}
	if ti.State == "none" { // 2.x deprecated spelling of "no state"
		ti.State = ""
	}
	return ti
}

type wireTaskInstanceCollection struct {
	TaskInstances []wireTaskInstance `json:"task_instances"`
	Total         int                `json:"total_entries"`
}

func domainTIs(in []wireTaskInstance) []TaskInstance {
	out := make([]TaskInstance, 0, len(in))
	for i := range in {
		out = append(out, in[i].domain())
	}
	return out
}

// listTIs pages a GET endpoint returning a task instance collection.
func (c *Client) listTIs(ctx context.Context, op string, major int, rawPath string, base url.Values) ([]TaskInstance, error) {
	tis, err := collect(ctx, c, op, 0, func(offset, n int) ([]wireTaskInstance, int, error) {
		q := url.Values{"limit": {strconv.Itoa(n)}, "offset": {strconv.Itoa(offset)}}
		for k, v := range base {
			q[k] = v
		}
		var page wireTaskInstanceCollection
		err := c.doJSON(ctx, &request{
			op: op, method: http.MethodGet, rawPath: rawPath, query: q,
			major: major, idempotent: true,
		}, &page)
		return page.TaskInstances, page.Total, err
	})
	return domainTIs(tis), err
}

// ListTaskInstances returns every task instance of a run, fully paged.
func (c *Client) ListTaskInstances(ctx context.Context, dagID, runID string) ([]TaskInstance, error) {
	op := "list task instances of " + dagID + "/" + runID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	tis, err := c.listTIs(ctx, op, major, apiPath(major, "dags", dagID, "dagRuns", runID, "taskInstances"), nil)
	if err != nil {
		return nil, err
	}
	return tis, nil
}

// GetTaskInstance returns the current state of one (unmapped) task instance.
func (c *Client) GetTaskInstance(ctx context.Context, dagID, runID, taskID string) (*TaskInstance, error) {
	op := "get task instance " + dagID + "/" + runID + "/" + taskID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	return c.getTaskInstance(ctx, op, major, dagID, runID, taskID, nil)
}

func (c *Client) getTaskInstance(ctx context.Context, op string, major int, dagID, runID, taskID string, mapIndex *int) (*TaskInstance, error) {
	segs := []string{"dags", dagID, "dagRuns", runID, "taskInstances", taskID}
	if mapIndex != nil && *mapIndex >= 0 {
		segs = append(segs, strconv.Itoa(*mapIndex))
	}
	var w wireTaskInstance
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodGet, major: major, idempotent: true, rawPath: apiPath(major, segs...),
	}, &w); err != nil {
		return nil, err
	}
	ti := w.domain()
	return &ti, nil
}

// ListTaskTries returns every try of an (unmapped) task instance, from the
// task instance history.
func (c *Client) ListTaskTries(ctx context.Context, dagID, runID, taskID string) ([]TaskInstance, error) {
	op := "list tries of " + dagID + "/" + runID + "/" + taskID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	rawPath := apiPath(major, "dags", dagID, "dagRuns", runID, "taskInstances", taskID, "tries")
	if major < 3 {
		return c.listTIs(ctx, op, major, rawPath, nil)
	}
	// 3.x: not paged (TaskInstanceHistoryCollectionResponse).
	var page wireTaskInstanceCollection
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodGet, rawPath: rawPath, major: major,
		idempotent: true,
	}, &page); err != nil {
		return nil, err
	}
	return domainTIs(page.TaskInstances), nil
}

// listTIsBatchBody is the 2.x POST /dags/~/dagRuns/~/taskInstances/list
// body. page_offset/page_limit are not in the 2.10 spec's ListTaskInstanceForm
// but are read by the server's TaskInstanceBatchFormSchema (default limit
// 100); the form allows additional properties.
type listTIsBatchBody struct {
	DagIDs       []string `json:"dag_ids"`
	TaskIDs      []string `json:"task_ids"`
	State        []string `json:"state"`
	StartDateGTE string   `json:"start_date_gte,omitempty"`
	PageOffset   int      `json:"page_offset"`
	PageLimit    int      `json:"page_limit"`
}

// ListTaskFailures returns the failed instances of one task across runs
// that started at or after since (zero: all), for failure frequency. Only
// each run's final state counts: a try that failed and was retried is not
// "failed".
func (c *Client) ListTaskFailures(ctx context.Context, dagID, taskID string, since time.Time) ([]TaskInstance, error) {
	op := "list failures of " + dagID + "/" + taskID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	if major >= 3 {
		q := url.Values{"task_id": {taskID}, "state": {"failed"}}
		if !since.IsZero() {
			q.Set("start_date_gte", formatTime(since))
		}
		return c.listTIs(ctx, op, major, apiPath(major, "dags", dagID, "dagRuns", "~", "taskInstances"), q)
	}
	tis, err := collect(ctx, c, op, 0, func(offset, n int) ([]wireTaskInstance, int, error) {
		body := listTIsBatchBody{
			DagIDs: []string{dagID}, TaskIDs: []string{taskID}, State: []string{"failed"},
			PageOffset: offset, PageLimit: n,
		}
		if !since.IsZero() {
			body.StartDateGTE = formatTime(since)
		}
		var page wireTaskInstanceCollection
		err := c.doJSON(ctx, &request{
			op: op, method: http.MethodPost, major: major, idempotent: true,
			rawPath: apiPath(major, "dags", "~", "dagRuns", "~", "taskInstances", "list"), body: body,
		}, &page)
		return page.TaskInstances, page.Total, err
	})
	if err != nil {
		return nil, err
	}
	return domainTIs(tis), nil
}

// clearBody is ClearTaskInstances (2.x) / ClearTaskInstancesBody (3.x),
// restricted to keys both accept (the 3.x body forbids others). Every flag
// is sent explicitly: dry_run defaults to true on both versions (an empty
// body clears nothing) and reset_dag_runs defaults to false on 2.x but true
// on 3.x. medic always sends reset_dag_runs=true so the cleared run goes back
// to queued/running and the scheduler re-executes the tasks on both.
type clearBody struct {
	DagRunID          string   `json:"dag_run_id"`
	TaskIDs           []string `json:"task_ids,omitempty"` // 2.x: minItems 1
	DryRun            bool     `json:"dry_run"`
	OnlyFailed        bool     `json:"only_failed"`
	OnlyRunning       bool     `json:"only_running"`
	IncludeDownstream bool     `json:"include_downstream"`
	IncludeUpstream   bool     `json:"include_upstream"`
	IncludeFuture     bool     `json:"include_future"`
	IncludePast       bool     `json:"include_past"`
	ResetDagRuns      bool     `json:"reset_dag_runs"`
}

// ClearTaskInstances clears task instances of one run so the scheduler runs
// them again, or with DryRun lists what would be cleared. dry_run is always
// sent (Airflow defaults it to true), and so is reset_dag_runs=true, so the
// run is re-queued on both versions (2.x defaults it to false, 3.x to true).
// A real clear is a write: it is retried only on 429/503 or when no
// connection was made; a dry run is retried like any read.
func (c *Client) ClearTaskInstances(ctx context.Context, dagID string, req ClearRequest) ([]TaskInstanceRef, error) {
	verb := "clear"
	if req.DryRun {
		verb = "dry-run clear"
	}
	op := fmt.Sprintf("%s %s/%s tasks [%s]", verb, dagID, req.RunID, strings.Join(req.TaskIDs, ","))
	if req.RunID == "" {
		return nil, fmt.Errorf("airflow %s: %s: a run id is required (medic never clears across runs)", c.name, op)
	}
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	body := clearBody{
		DagRunID: req.RunID, TaskIDs: req.TaskIDs, DryRun: req.DryRun, OnlyFailed: req.OnlyFailed,
		IncludeDownstream: req.IncludeDownstream, ResetDagRuns: true,
	}
	var page wireTaskInstanceCollection
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodPost, rawPath: apiPath(major, "dags", dagID, "clearTaskInstances"),
		body: body, major: major, idempotent: req.DryRun,
	}, &page); err != nil {
		return nil, err
	}
	refs := make([]TaskInstanceRef, 0, len(page.TaskInstances))
	for _, ti := range page.TaskInstances {
		refs = append(refs, TaskInstanceRef{DagID: ti.DagID, RunID: ti.RunID, TaskID: ti.TaskID})
	}
	if !req.DryRun {
		c.log.InfoContext(ctx, "airflow task instances cleared", "dag_id", dagID, "run_id", req.RunID,
			"cleared", len(refs))
	}
	return refs, nil
}
