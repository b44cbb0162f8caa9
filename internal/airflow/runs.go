package airflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DagRun is one run of a DAG, the same for both Airflow versions.
type DagRun struct {
	DagID       string
	RunID       string
	State       string // queued, running, success, failed
	RunType     string // manual, scheduled, backfill, dataset_triggered / asset_triggered, …
	LogicalDate *time.Time
	StartDate   *time.Time
	EndDate     *time.Time
	Conf        map[string]any
}

// RunQuery filters ListDagRuns. Runs come most recently created first
// (order_by=-id on both versions), so Limit keeps the latest.
type RunQuery struct {
	States     []string  // any of these; empty means all
	EndedAfter time.Time // end_date at or after; zero means no bound
	Limit      int       // at most this many runs; 0 means all
}

// TriggerRequest describes a new DAG run.
type TriggerRequest struct {
	// RunID is the new run's id. When empty medic generates
	// "medic__<UTC time>_<random>", because Airflow 3.1.3 can generate the
	// same id twice in a day for manual runs of scheduled DAGs (409).
	RunID       string
	Conf        map[string]any
	LogicalDate *time.Time // nil: none on Airflow 3 (sent as null), now on Airflow 2
	Note        string
}

type wireDagRun struct {
	DagID         string         `json:"dag_id"`
	RunID         string         `json:"dag_run_id"`
	State         nullString     `json:"state"`
	RunType       nullString     `json:"run_type"`
	LogicalDate   jsonTime       `json:"logical_date"`
	ExecutionDate jsonTime       `json:"execution_date"` // 2.x, deprecated alias
	StartDate     jsonTime       `json:"start_date"`
	EndDate       jsonTime       `json:"end_date"`
	Conf          map[string]any `json:"conf"`
}

func (w *wireDagRun) domain() DagRun {
	r := DagRun{
		DagID: w.DagID, RunID: w.RunID, State: string(w.State), RunType: string(w.RunType),
		LogicalDate: w.LogicalDate.t, StartDate: w.StartDate.t, EndDate: w.EndDate.t, Conf: w.Conf,
	}
	if r.LogicalDate == nil {
		r.LogicalDate = w.ExecutionDate.t
	}
	return r
}

type wireDagRunCollection struct {
	DagRuns []wireDagRun `json:"dag_runs"`
	Total   int          `json:"total_entries"`
}

// listDagRunsBatchBody is the 2.x POST /dags/~/dagRuns/list body
// (ListDagRunsForm). It has no updated_at filter, so "since" is end_date_gte
// on both versions: a failed run always has an end date.
type listDagRunsBatchBody struct {
	DagIDs     []string `json:"dag_ids,omitempty"`
	States     []string `json:"states,omitempty"`
	EndDateGTE string   `json:"end_date_gte,omitempty"`
	PageOffset int      `json:"page_offset"`
	PageLimit  int      `json:"page_limit"`
}

// major returns the Airflow major version, detecting it when needed.
func (c *Client) major(ctx context.Context, op string) (int, error) {
	v, err := c.Version(ctx)
	if err != nil {
		return 0, withOp(op, err)
	}
	return v, nil
}

// ListFailedDagRuns returns every failed run of every DAG that ended at or
// after since (zero: all), fully paged and de-duplicated.
func (c *Client) ListFailedDagRuns(ctx context.Context, since time.Time) ([]DagRun, error) {
	op := "list failed dag runs"
	if !since.IsZero() {
		op += " since " + formatTime(since)
	}
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	runs, err := collect(ctx, c, op, 0, func(offset, n int) ([]wireDagRun, int, error) {
		var page wireDagRunCollection
		req := &request{op: op, major: major, idempotent: true}
		if major < 3 {
			// The GET with dag_id "~" works on 2.x too, but the batch form
			// is the documented way to list across DAGs there.
			req.method, req.rawPath = http.MethodPost, apiPath(major, "dags", "~", "dagRuns", "list")
			body := listDagRunsBatchBody{States: []string{"failed"}, PageOffset: offset, PageLimit: n}
			if !since.IsZero() {
				body.EndDateGTE = formatTime(since)
			}
			req.body = body
		} else {
			req.method, req.rawPath = http.MethodGet, apiPath(major, "dags", "~", "dagRuns")
			q := url.Values{"state": {"failed"}, "limit": {strconv.Itoa(n)}, "offset": {strconv.Itoa(offset)}}
			if !since.IsZero() {
				q.Set("end_date_gte", formatTime(since))
			}
			req.query = q
		}
		err := c.doJSON(ctx, req, &page)
		return page.DagRuns, page.Total, err
	})
	if err != nil {
		return nil, err
	}
	return dedupRuns(runs), nil
}

// ListDagRuns returns runs of one DAG matching q, the most recently created
// first.
func (c *Client) ListDagRuns(ctx context.Context, dagID string, q RunQuery) ([]DagRun, error) {
	op := "list dag runs of " + dagID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	runs, err := collect(ctx, c, op, q.Limit, func(offset, n int) ([]wireDagRun, int, error) {
		query := url.Values{"limit": {strconv.Itoa(n)}, "offset": {strconv.Itoa(offset)}, "order_by": {"-id"}}
		for _, s := range q.States {
			query.Add("state", s)
		}
		if !q.EndedAfter.IsZero() {
			query.Set("end_date_gte", formatTime(q.EndedAfter))
		}
		var page wireDagRunCollection
		err := c.doJSON(ctx, &request{
			op: op, method: http.MethodGet, rawPath: apiPath(major, "dags", dagID, "dagRuns"),
			query: query, major: major, idempotent: true,
		}, &page)
		return page.DagRuns, page.Total, err
	})
	if err != nil {
		return nil, err
	}
	return dedupRuns(runs), nil
}

// dedupRuns converts and drops repeats, which paging can produce when runs
// are created between pages.
func dedupRuns(in []wireDagRun) []DagRun {
	seen := make(map[[2]string]bool, len(in))
	out := make([]DagRun, 0, len(in))
	for i := range in {
		key := [2]string{in[i].DagID, in[i].RunID}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, in[i].domain())
	}
	return out
}

// GetDagRun returns one run.
func (c *Client) GetDagRun(ctx context.Context, dagID, runID string) (*DagRun, error) {
	op := "get dag run " + dagID + "/" + runID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	var w wireDagRun
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodGet, rawPath: apiPath(major, "dags", dagID, "dagRuns", runID),
		major: major, idempotent: true,
	}, &w); err != nil {
		return nil, err
	}
	r := w.domain()
	return &r, nil
}

// triggerBodyV1 is the 2.x DAGRun body; read-only fields must not be sent.
type triggerBodyV1 struct {
	DagRunID    string         `json:"dag_run_id"`
	Conf        map[string]any `json:"conf,omitempty"`
	LogicalDate *string        `json:"logical_date,omitempty"`
	Note        string         `json:"note,omitempty"`
}

// triggerBodyV2 is the 3.x TriggerDAGRunPostBody. logical_date is always
// present: 3.0/3.1 require the key (null allowed) and answer 422 without it.
type triggerBodyV2 struct {
	DagRunID    string         `json:"dag_run_id"`
	Conf        map[string]any `json:"conf,omitempty"`
	LogicalDate *string        `json:"logical_date"`
	Note        string         `json:"note,omitempty"`
}

// TriggerDagRun creates a run. It is a write: it is retried only on 429/503
// or when no connection was made, never after a timeout (the run may exist;
// GetDagRun with the run id tells). A duplicate run id is ErrConflict.
func (c *Client) TriggerDagRun(ctx context.Context, dagID string, req TriggerRequest) (*DagRun, error) {
	runID := req.RunID
	if runID == "" {
		runID = newRunID(c.now())
	}
	op := "trigger dag " + dagID + " run " + runID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	var logical *string
	if req.LogicalDate != nil {
		s := formatTime(*req.LogicalDate)
		logical = &s
	}
	var body any = triggerBodyV2{DagRunID: runID, Conf: req.Conf, LogicalDate: logical, Note: req.Note}
	if major < 3 {
		body = triggerBodyV1{DagRunID: runID, Conf: req.Conf, LogicalDate: logical, Note: req.Note}
	}
	var w wireDagRun
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodPost, rawPath: apiPath(major, "dags", dagID, "dagRuns"),
		body: body, major: major,
	}, &w); err != nil {
		return nil, err
	}
	r := w.domain()
	return &r, nil
}

// newRunID makes a run id that matches Airflow's default
// allowed_run_id_pattern ^[A-Za-z0-9_.~:+-]+$.
func newRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "medic__" + now.UTC().Format("2006-01-02T15:04:05.000000Z") + "_" + hex.EncodeToString(b[:])
}
