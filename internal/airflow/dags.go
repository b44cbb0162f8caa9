package airflow

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/sync/errgroup"
)

// Dag is a DAG's metadata and its tasks.
type Dag struct {
	ID          string
	DisplayName string
	Description string
	Owners      []string
	Tags        []string
	Paused      bool
	FileLoc     string // absolute path of the DAG file on the Airflow side
	Schedule    string // human description of the timetable, when Airflow gives one
	Tasks       []Task
}

// Task is one task of a DAG as defined in code (not a run of it).
type Task struct {
	ID         string
	Operator   string // class name, e.g. PythonOperator
	Owner      string
	Downstream []string
	Retries    int
	Pool       string
	Queue      string
}

type wireTag struct {
	Name string `json:"name"`
}

// wireDagDetails covers DAGDetail (2.x) and DAGDetailsResponse (3.x).
type wireDagDetails struct {
	DagID                string     `json:"dag_id"`
	DagDisplayName       nullString `json:"dag_display_name"`
	Description          nullString `json:"description"`
	Owners               []string   `json:"owners"`
	Tags                 []wireTag  `json:"tags"`
	IsPaused             *bool      `json:"is_paused"`
	Fileloc              nullString `json:"fileloc"`
	TimetableSummary     nullString `json:"timetable_summary"`     // 3.x
	TimetableDescription nullString `json:"timetable_description"` // both
}

type wireClassRef struct {
	ClassName nullString `json:"class_name"`
}

// wireTask covers Task (2.x) and TaskResponse (3.x). 3.x types retries as a
// number, 2.x has no operator_name.
type wireTask struct {
	TaskID       nullString    `json:"task_id"`
	OperatorName nullString    `json:"operator_name"`
	ClassRef     *wireClassRef `json:"class_ref"`
	Owner        nullString    `json:"owner"`
	Downstream   []string      `json:"downstream_task_ids"`
	Retries      jsonInt       `json:"retries"`
	Pool         nullString    `json:"pool"`
	Queue        nullString    `json:"queue"`
}

type wireTaskCollection struct {
	Tasks []wireTask `json:"tasks"`
}

// GetDag returns a DAG's details and tasks (GET /dags/{id}/details and
// /dags/{id}/tasks, fetched concurrently).
func (c *Client) GetDag(ctx context.Context, dagID string) (*Dag, error) {
	op := "get dag " + dagID
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	var details wireDagDetails
	var tasks wireTaskCollection
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return c.doJSON(gctx, &request{
			op: op + " details", method: http.MethodGet, major: major,
			rawPath: apiPath(major, "dags", dagID, "details"), idempotent: true,
		}, &details)
	})
	g.Go(func() error {
		return c.doJSON(gctx, &request{
			op: op + " tasks", method: http.MethodGet, major: major,
			rawPath: apiPath(major, "dags", dagID, "tasks"), idempotent: true,
		}, &tasks)
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	d := &Dag{
		ID: details.DagID, DisplayName: string(details.DagDisplayName), Description: string(details.Description),
		Owners: details.Owners, FileLoc: string(details.Fileloc),
		Schedule: string(details.TimetableDescription),
	}
	if d.Schedule == "" {
		d.Schedule = string(details.TimetableSummary)
	}
	if details.IsPaused != nil {
		d.Paused = *details.IsPaused
	}
	for _, t := range details.Tags {
		d.Tags = append(d.Tags, t.Name)
	}
	for _, t := range tasks.Tasks {
		task := Task{
			ID: string(t.TaskID), Owner: string(t.Owner),
			Downstream: t.Downstream, Retries: int(t.Retries), Pool: string(t.Pool), Queue: string(t.Queue),
		}
		if t.ClassRef != nil {
			task.Operator = string(t.ClassRef.ClassName)
		}
		if task.Operator == "" {
			task.Operator = string(t.OperatorName) // may be a custom display name
		}
		d.Tasks = append(d.Tasks, task)
	}
	return d, nil
}

type pauseBody struct {
	IsPaused bool `json:"is_paused"`
}

// SetDagPaused pauses or unpauses a DAG (PATCH /dags/{id} with
// update_mask=is_paused, the one field Airflow lets a client change) and
// returns the DAG as Airflow then describes it, without its tasks. Setting
// the same value twice changes nothing, so unlike other writes it is safe
// to retry.
func (c *Client) SetDagPaused(ctx context.Context, dagID string, paused bool) (*Dag, error) {
	op := fmt.Sprintf("set dag %s paused=%t", dagID, paused)
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	var w wireDagDetails
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodPatch, major: major, idempotent: true,
		rawPath: apiPath(major, "dags", dagID), query: url.Values{"update_mask": {"is_paused"}},
		body: pauseBody{IsPaused: paused},
	}, &w); err != nil {
		return nil, err
	}
	d := &Dag{ID: w.DagID, Owners: w.Owners}
	if w.IsPaused != nil {
		d.Paused = *w.IsPaused
	}
	return d, nil
}
