package airflowsim

import "time"

// 2.x (REST API v1) response shapes: DAG, DAGDetail, Task, DAGRun,
// TaskInstance and TaskInstanceReference, and their builders.

type v1Tag struct {
	Name string `json:"name"`
}

type v1DAG struct {
	DagDisplayName              string    `json:"dag_display_name"`
	DagID                       string    `json:"dag_id"`
	DefaultView                 *string   `json:"default_view"`
	Description                 *string   `json:"description"`
	FileToken                   string    `json:"file_token"`
	Fileloc                     string    `json:"fileloc"`
	HasImportErrors             *bool     `json:"has_import_errors"`
	HasTaskConcurrencyLimits    *bool     `json:"has_task_concurrency_limits"`
	IsActive                    *bool     `json:"is_active"`
	IsPaused                    *bool     `json:"is_paused"`
	IsSubdag                    bool      `json:"is_subdag"`
	LastExpired                 *string   `json:"last_expired"`
	LastParsedTime              *string   `json:"last_parsed_time"`
	LastPickled                 *string   `json:"last_pickled"`
	MaxActiveRuns               *int      `json:"max_active_runs"`
	MaxActiveTasks              *int      `json:"max_active_tasks"`
	MaxConsecutiveFailedDagRuns *int      `json:"max_consecutive_failed_dag_runs"`
	NextDagrun                  *string   `json:"next_dagrun"`
	NextDagrunCreateAfter       *string   `json:"next_dagrun_create_after"`
	NextDagrunDataIntervalEnd   *string   `json:"next_dagrun_data_interval_end"`
	NextDagrunDataIntervalStart *string   `json:"next_dagrun_data_interval_start"`
	Owners                      []string  `json:"owners"`
	PickleID                    *string   `json:"pickle_id"`
	RootDagID                   *string   `json:"root_dag_id"`
	ScheduleInterval            *cronExpr `json:"schedule_interval"`
	SchedulerLock               *bool     `json:"scheduler_lock"`
	Tags                        []v1Tag   `json:"tags"`
	TimetableDescription        *string   `json:"timetable_description"`
}

type v1DAGDetail struct {
	v1DAG
	Catchup                   *bool          `json:"catchup"`
	Concurrency               *float64       `json:"concurrency"`
	DagRunTimeout             *timeDelta     `json:"dag_run_timeout"`
	DatasetExpression         map[string]any `json:"dataset_expression"`
	DocMd                     *string        `json:"doc_md"`
	EndDate                   *string        `json:"end_date"`
	IsPausedUponCreation      *bool          `json:"is_paused_upon_creation"`
	LastParsed                *string        `json:"last_parsed"`
	Orientation               *string        `json:"orientation"`
	Params                    map[string]any `json:"params"`
	RenderTemplateAsNativeObj *bool          `json:"render_template_as_native_obj"`
	StartDate                 *string        `json:"start_date"`
	TemplateSearchPath        []string       `json:"template_search_path"`
	Timezone                  string         `json:"timezone"`
}

type v1Task struct {
	ClassRef                classRef   `json:"class_ref"`
	DependsOnPast           bool       `json:"depends_on_past"`
	DocMd                   *string    `json:"doc_md"`
	DownstreamTaskIDs       []string   `json:"downstream_task_ids"`
	EndDate                 *string    `json:"end_date"`
	ExecutionTimeout        *timeDelta `json:"execution_timeout"`
	Executor                *string    `json:"executor"`
	ExtraLinks              []any      `json:"extra_links"`
	IsMapped                bool       `json:"is_mapped"`
	Owner                   string     `json:"owner"`
	Pool                    string     `json:"pool"`
	PoolSlots               float64    `json:"pool_slots"`
	PriorityWeight          float64    `json:"priority_weight"`
	Queue                   *string    `json:"queue"`
	Retries                 float64    `json:"retries"`
	RetryDelay              *timeDelta `json:"retry_delay"`
	RetryExponentialBackoff bool       `json:"retry_exponential_backoff"`
	StartDate               *string    `json:"start_date"`
	TaskDisplayName         string     `json:"task_display_name"`
	TaskID                  string     `json:"task_id"`
	TemplateFields          []string   `json:"template_fields"`
	TriggerRule             string     `json:"trigger_rule"`
	UIColor                 string     `json:"ui_color"`
	UIFgcolor               string     `json:"ui_fgcolor"`
	WaitForDownstream       bool       `json:"wait_for_downstream"`
	WeightRule              string     `json:"weight_rule"`
}

type v1DAGRun struct {
	Conf                   map[string]any `json:"conf"`
	DagID                  string         `json:"dag_id"`
	DagRunID               *string        `json:"dag_run_id"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	EndDate                *string        `json:"end_date"`
	ExecutionDate          *string        `json:"execution_date"`
	ExternalTrigger        bool           `json:"external_trigger"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	LogicalDate            *string        `json:"logical_date"`
	Note                   *string        `json:"note"`
	RunType                string         `json:"run_type"`
	StartDate              *string        `json:"start_date"`
	State                  string         `json:"state"`
}

type v1TI struct {
	DagID            string         `json:"dag_id"`
	DagRunID         string         `json:"dag_run_id"`
	Duration         *float64       `json:"duration"`
	EndDate          *string        `json:"end_date"`
	ExecutionDate    string         `json:"execution_date"`
	Executor         *string        `json:"executor"`
	ExecutorConfig   string         `json:"executor_config"`
	Hostname         string         `json:"hostname"`
	MapIndex         int            `json:"map_index"`
	MaxTries         int            `json:"max_tries"`
	Note             *string        `json:"note"`
	Operator         *string        `json:"operator"`
	Pid              *int           `json:"pid"`
	Pool             string         `json:"pool"`
	PoolSlots        int            `json:"pool_slots"`
	PriorityWeight   *int           `json:"priority_weight"`
	Queue            *string        `json:"queue"`
	QueuedWhen       *string        `json:"queued_when"`
	RenderedFields   map[string]any `json:"rendered_fields"`
	RenderedMapIndex *string        `json:"rendered_map_index"`
	SLAMiss          *struct{}      `json:"sla_miss"`
	StartDate        *string        `json:"start_date"`
	State            *string        `json:"state"`
	TaskDisplayName  string         `json:"task_display_name"`
	TaskID           string         `json:"task_id"`
	Trigger          *struct{}      `json:"trigger"`
	TriggererJob     *struct{}      `json:"triggerer_job"`
	TryNumber        int            `json:"try_number"`
	Unixname         string         `json:"unixname"`
}

type v1TIRef struct {
	DagID         string `json:"dag_id"`
	DagRunID      string `json:"dag_run_id"`
	ExecutionDate string `json:"execution_date"`
	TaskID        string `json:"task_id"`
}

func (s *Server) v1DAGOf(d *dagState) v1DAG {
	tags := make([]v1Tag, 0, len(d.Tags))
	for _, t := range d.Tags {
		tags = append(tags, v1Tag{Name: t})
	}
	var sched *cronExpr
	if d.Schedule != "" {
		sched = &cronExpr{Type: "CronExpression", Value: d.Schedule}
	}
	owners := d.Owners
	if len(owners) == 0 {
		owners = []string{"airflow"}
	}
	parsed := s.ts(&d.created)
	return v1DAG{
		DagDisplayName: d.ID, DagID: d.ID, DefaultView: strp("grid"), Description: nilIfEmpty(d.Description),
		FileToken: s.fileToken(d), Fileloc: d.FileLoc, HasImportErrors: boolp(false), HasTaskConcurrencyLimits: boolp(false),
		IsActive: boolp(true), IsPaused: boolp(d.Paused), LastParsedTime: parsed,
		MaxActiveRuns: intp(16), MaxActiveTasks: intp(16), MaxConsecutiveFailedDagRuns: intp(0),
		Owners: owners, ScheduleInterval: sched, SchedulerLock: nil, Tags: tags,
		TimetableDescription: strp(cronDescription(d.Schedule)),
	}
}

func (s *Server) v1DAGDetailOf(d *dagState) v1DAGDetail {
	start := d.created.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
	return v1DAGDetail{
		v1DAG: s.v1DAGOf(d), Catchup: boolp(false), Concurrency: f64p(16), IsPausedUponCreation: nil,
		LastParsed: s.ts(&d.created), Orientation: strp("LR"), Params: map[string]any{},
		RenderTemplateAsNativeObj: boolp(false), StartDate: s.ts(&start), Timezone: "Timezone('UTC')",
		DocMd: nilIfEmpty(d.Description),
	}
}

func (s *Server) v1TaskOf(d *dagState, t *Task) v1Task {
	start := d.created.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
	return v1Task{
		ClassRef: classRef{ClassName: t.Operator, ModulePath: operatorModule(2, t.Operator)}, DownstreamTaskIDs: append([]string{}, t.Downstream...),
		ExtraLinks: []any{}, Owner: t.Owner, Pool: t.Pool, PoolSlots: 1, PriorityWeight: 1, Queue: strp(t.Queue),
		Retries: float64(t.Retries), RetryDelay: newTimeDelta(t.RetryDelay), StartDate: s.ts(&start),
		TaskDisplayName: t.ID, TaskID: t.ID, TemplateFields: []string{}, TriggerRule: "all_success",
		UIColor: "#fff", UIFgcolor: "#000", WeightRule: "downstream",
	}
}

func (s *Server) v1RunOf(r *runState) v1DAGRun {
	return v1DAGRun{
		Conf: r.conf, DagID: r.dagID, DagRunID: strp(r.runID), DataIntervalEnd: s.ts(r.intervalE), DataIntervalStart: s.ts(r.intervalS),
		EndDate: s.ts(r.endDate), ExecutionDate: s.ts(r.logicalDate), ExternalTrigger: r.runType != "scheduled",
		LastSchedulingDecision: s.ts(r.lastSched), LogicalDate: s.ts(r.logicalDate), Note: r.note,
		RunType: r.runType, StartDate: s.ts(r.startDate), State: r.state,
	}
}

func (s *Server) v1TIOf(v tiView) v1TI {
	state, try, maxTries, start, end, dur, host, pid, queued := v.fields()
	pool, queue := s.poolQueue(v)
	ld := ""
	if v.run.logicalDate != nil {
		ld = pyISO(*v.run.logicalDate)
	}
	return v1TI{
		DagID: v.dag.ID, DagRunID: v.run.runID, Duration: dur, EndDate: s.ts(end), ExecutionDate: ld,
		ExecutorConfig: "{}", Hostname: host, MapIndex: -1, MaxTries: maxTries, Operator: strp(v.task.Operator), Pid: pid,
		Pool: pool, PoolSlots: 1, PriorityWeight: intp(1), Queue: strp(queue), QueuedWhen: s.ts(queued),
		RenderedFields: map[string]any{}, StartDate: s.ts(start), State: nilIfEmpty(state), TaskDisplayName: v.task.ID,
		TaskID: v.task.ID, TryNumber: try, Unixname: "airflow",
	}
}
