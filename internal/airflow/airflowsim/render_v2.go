package airflowsim

import (
	"strings"
	"time"
)

// 3.x (REST API v2) response shapes: DAGResponse, DAGDetailsResponse,
// TaskResponse, DAGRunResponse, TaskInstanceResponse and
// TaskInstanceHistoryResponse, and their builders.

type v2Tag struct {
	DagDisplayName string `json:"dag_display_name"`
	DagID          string `json:"dag_id"`
	Name           string `json:"name"`
}

type v2DagVersion struct {
	BundleName     *string `json:"bundle_name"`
	BundleURL      *string `json:"bundle_url"`
	BundleVersion  *string `json:"bundle_version"`
	CreatedAt      string  `json:"created_at"`
	DagDisplayName string  `json:"dag_display_name"`
	DagID          string  `json:"dag_id"`
	ID             string  `json:"id"`
	VersionNumber  int     `json:"version_number"`
}

type v2DAG struct {
	AllowedRunTypes             []string `json:"allowed_run_types"`
	BundleName                  *string  `json:"bundle_name"`
	BundleVersion               *string  `json:"bundle_version"`
	DagDisplayName              string   `json:"dag_display_name"`
	DagID                       string   `json:"dag_id"`
	Description                 *string  `json:"description"`
	FileToken                   string   `json:"file_token"`
	Fileloc                     string   `json:"fileloc"`
	HasImportErrors             bool     `json:"has_import_errors"`
	HasTaskConcurrencyLimits    bool     `json:"has_task_concurrency_limits"`
	IsPaused                    bool     `json:"is_paused"`
	IsStale                     bool     `json:"is_stale"`
	LastExpired                 *string  `json:"last_expired"`
	LastParseDuration           *float64 `json:"last_parse_duration"`
	LastParsedTime              *string  `json:"last_parsed_time"`
	MaxActiveRuns               *int     `json:"max_active_runs"`
	MaxActiveTasks              int      `json:"max_active_tasks"`
	MaxConsecutiveFailedDagRuns int      `json:"max_consecutive_failed_dag_runs"`
	NextDagrunDataIntervalEnd   *string  `json:"next_dagrun_data_interval_end"`
	NextDagrunDataIntervalStart *string  `json:"next_dagrun_data_interval_start"`
	NextDagrunLogicalDate       *string  `json:"next_dagrun_logical_date"`
	NextDagrunRunAfter          *string  `json:"next_dagrun_run_after"`
	Owners                      []string `json:"owners"`
	RelativeFileloc             *string  `json:"relative_fileloc"`
	Tags                        []v2Tag  `json:"tags"`
	TimetableDescription        *string  `json:"timetable_description"`
	TimetablePartitioned        bool     `json:"timetable_partitioned"`
	TimetableSummary            *string  `json:"timetable_summary"`
}

type v2DAGDetails struct {
	v2DAG
	ActiveRunsCount           int               `json:"active_runs_count"`
	AssetExpression           map[string]any    `json:"asset_expression"`
	Catchup                   bool              `json:"catchup"`
	Concurrency               int               `json:"concurrency"`
	DagRunTimeout             *string           `json:"dag_run_timeout"`
	DefaultArgs               map[string]any    `json:"default_args"`
	DocMd                     *string           `json:"doc_md"`
	EndDate                   *string           `json:"end_date"`
	IsFavorite                bool              `json:"is_favorite"`
	IsPausedUponCreation      *bool             `json:"is_paused_upon_creation"`
	LastParsed                *string           `json:"last_parsed"`
	LatestDagVersion          *v2DagVersion     `json:"latest_dag_version"`
	OwnerLinks                map[string]string `json:"owner_links"`
	Params                    map[string]any    `json:"params"`
	RenderTemplateAsNativeObj bool              `json:"render_template_as_native_obj"`
	StartDate                 *string           `json:"start_date"`
	TemplateSearchPath        []string          `json:"template_search_path"`
	Timezone                  *string           `json:"timezone"`
}

type v2Task struct {
	ClassRef                map[string]any `json:"class_ref"`
	DependsOnPast           bool           `json:"depends_on_past"`
	DocMd                   *string        `json:"doc_md"`
	DownstreamTaskIDs       []string       `json:"downstream_task_ids"`
	EndDate                 *string        `json:"end_date"`
	ExecutionTimeout        *timeDelta     `json:"execution_timeout"`
	ExtraLinks              []string       `json:"extra_links"`
	IsMapped                *bool          `json:"is_mapped"`
	OperatorName            *string        `json:"operator_name"`
	Owner                   *string        `json:"owner"`
	Params                  map[string]any `json:"params"`
	Pool                    *string        `json:"pool"`
	PoolSlots               *float64       `json:"pool_slots"`
	PriorityWeight          *float64       `json:"priority_weight"`
	Queue                   *string        `json:"queue"`
	Retries                 *float64       `json:"retries"`
	RetryDelay              *timeDelta     `json:"retry_delay"`
	RetryExponentialBackoff float64        `json:"retry_exponential_backoff"`
	StartDate               *string        `json:"start_date"`
	TaskDisplayName         *string        `json:"task_display_name"`
	TaskID                  *string        `json:"task_id"`
	TemplateFields          []string       `json:"template_fields"`
	TriggerRule             *string        `json:"trigger_rule"`
	UIColor                 *string        `json:"ui_color"`
	UIFgcolor               *string        `json:"ui_fgcolor"`
	WaitForDownstream       bool           `json:"wait_for_downstream"`
	WeightRule              *string        `json:"weight_rule"`
}

type v2DAGRun struct {
	BundleVersion          *string        `json:"bundle_version"`
	Conf                   map[string]any `json:"conf"`
	DagDisplayName         string         `json:"dag_display_name"`
	DagID                  string         `json:"dag_id"`
	DagRunID               string         `json:"dag_run_id"`
	DagVersions            []v2DagVersion `json:"dag_versions"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	Duration               *float64       `json:"duration"`
	EndDate                *string        `json:"end_date"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	LogicalDate            *string        `json:"logical_date"`
	Note                   *string        `json:"note"`
	PartitionKey           *string        `json:"partition_key"`
	QueuedAt               *string        `json:"queued_at"`
	RunAfter               string         `json:"run_after"`
	RunType                string         `json:"run_type"`
	StartDate              *string        `json:"start_date"`
	State                  string         `json:"state"`
	TriggeredBy            *string        `json:"triggered_by"`
	TriggeringUserName     *string        `json:"triggering_user_name"`
}

// v2TIHistory is TaskInstanceHistoryResponse; v2TI extends it to
// TaskInstanceResponse.
type v2TIHistory struct {
	DagDisplayName  string        `json:"dag_display_name"`
	DagID           string        `json:"dag_id"`
	DagRunID        string        `json:"dag_run_id"`
	DagVersion      *v2DagVersion `json:"dag_version"`
	Duration        *float64      `json:"duration"`
	EndDate         *string       `json:"end_date"`
	Executor        *string       `json:"executor"`
	ExecutorConfig  string        `json:"executor_config"`
	Hostname        *string       `json:"hostname"`
	MapIndex        int           `json:"map_index"`
	MaxTries        int           `json:"max_tries"`
	Operator        *string       `json:"operator"`
	OperatorName    *string       `json:"operator_name"`
	Pid             *int          `json:"pid"`
	Pool            string        `json:"pool"`
	PoolSlots       int           `json:"pool_slots"`
	PriorityWeight  *int          `json:"priority_weight"`
	Queue           *string       `json:"queue"`
	QueuedWhen      *string       `json:"queued_when"`
	ScheduledWhen   *string       `json:"scheduled_when"`
	StartDate       *string       `json:"start_date"`
	State           *string       `json:"state"`
	TaskDisplayName string        `json:"task_display_name"`
	TaskID          string        `json:"task_id"`
	TryNumber       int           `json:"try_number"`
	Unixname        *string       `json:"unixname"`
}

type v2TI struct {
	v2TIHistory
	ID               string         `json:"id"`
	LogicalDate      *string        `json:"logical_date"`
	Note             *string        `json:"note"`
	RenderedFields   map[string]any `json:"rendered_fields"`
	RenderedMapIndex *string        `json:"rendered_map_index"`
	RunAfter         string         `json:"run_after"`
	Trigger          *struct{}      `json:"trigger"`
	TriggererJob     *struct{}      `json:"triggerer_job"`
}

func (s *Server) dagVersion(d *dagState) v2DagVersion {
	return v2DagVersion{
		BundleName: strp("dags-folder"), CreatedAt: v2Time(d.created), DagDisplayName: d.ID, DagID: d.ID,
		ID: uuidFor("dag-version", d.ID, 1), VersionNumber: 1,
	}
}

func (s *Server) v2DAGOf(d *dagState) v2DAG {
	tags := make([]v2Tag, 0, len(d.Tags))
	for _, t := range d.Tags {
		tags = append(tags, v2Tag{DagDisplayName: d.ID, DagID: d.ID, Name: t})
	}
	owners := d.Owners
	if len(owners) == 0 {
		owners = []string{"airflow"}
	}
	var summary *string
	if d.Schedule != "" {
		summary = strp(d.Schedule)
	}
	return v2DAG{
		BundleName: strp("dags-folder"), DagDisplayName: d.ID, DagID: d.ID, Description: nilIfEmpty(d.Description),
		FileToken: s.fileToken(d), Fileloc: d.FileLoc, IsPaused: d.Paused, LastParseDuration: f64p(0.412),
		LastParsedTime: s.ts(&d.created), MaxActiveRuns: intp(16), MaxActiveTasks: 16,
		Owners: owners, RelativeFileloc: strp(strings.TrimPrefix(d.FileLoc, "/opt/airflow/dags/")), Tags: tags,
		TimetableDescription: strp(cronDescription(d.Schedule)), TimetableSummary: summary,
	}
}

func (s *Server) v2DAGDetailsOf(d *dagState) v2DAGDetails {
	start := d.created.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
	active := 0
	for _, r := range s.runs {
		if r.dagID == d.ID && (r.state == runQueued || r.state == runRunning) {
			active++
		}
	}
	dv := s.dagVersion(d)
	owner := "airflow"
	if len(d.Owners) > 0 {
		owner = d.Owners[0]
	}
	return v2DAGDetails{
		v2DAG: s.v2DAGOf(d), ActiveRunsCount: active, Concurrency: 16, DefaultArgs: map[string]any{"owner": owner},
		DocMd: nilIfEmpty(d.Description), LastParsed: s.ts(&d.created), LatestDagVersion: &dv, Params: map[string]any{},
		StartDate: s.ts(&start), Timezone: strp("UTC"),
	}
}

func (s *Server) v2TaskOf(d *dagState, t *Task) v2Task {
	start := d.created.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
	return v2Task{
		ClassRef:          map[string]any{"module_path": operatorModule(3, t.Operator), "class_name": t.Operator},
		DownstreamTaskIDs: append([]string{}, t.Downstream...), ExtraLinks: []string{}, IsMapped: boolp(false),
		OperatorName: strp(t.Operator), Owner: strp(t.Owner), Params: map[string]any{}, Pool: strp(t.Pool),
		PoolSlots: f64p(1), PriorityWeight: f64p(1), Queue: strp(t.Queue), Retries: f64p(float64(t.Retries)),
		RetryDelay: newTimeDelta(t.RetryDelay), StartDate: s.ts(&start), TaskDisplayName: strp(t.ID), TaskID: strp(t.ID),
		TemplateFields: []string{}, TriggerRule: strp("all_success"), UIColor: strp("#fff"), UIFgcolor: strp("#000"),
		WeightRule: strp("downstream"),
	}
}

func (s *Server) v2RunOf(d *dagState, r *runState) v2DAGRun {
	var dur *float64
	if r.startDate != nil && r.endDate != nil {
		dur = f64p(r.endDate.Sub(*r.startDate).Seconds())
	}
	var trig *string
	if r.triggeredBy != "" {
		trig = strp(r.triggeredBy)
	}
	var user *string
	if r.triggeredBy == "rest_api" {
		user = strp(s.opts.Username)
	}
	return v2DAGRun{
		Conf: r.conf, DagDisplayName: r.dagID, DagID: r.dagID, DagRunID: r.runID, DagVersions: []v2DagVersion{s.dagVersion(d)},
		DataIntervalEnd: s.ts(r.intervalE), DataIntervalStart: s.ts(r.intervalS), Duration: dur, EndDate: s.ts(r.endDate),
		LastSchedulingDecision: s.ts(r.lastSched), LogicalDate: s.ts(r.logicalDate), Note: r.note, QueuedAt: s.ts(r.queuedAt),
		RunAfter: s.tsv(r.runAfter), RunType: r.runType, StartDate: s.ts(r.startDate), State: r.state,
		TriggeredBy: trig, TriggeringUserName: user,
	}
}

func (s *Server) v2HistoryOf(v tiView) v2TIHistory {
	state, try, maxTries, start, end, dur, host, pid, queued := v.fields()
	pool, queue := s.poolQueue(v)
	dv := s.dagVersion(v.dag)
	return v2TIHistory{
		DagDisplayName: v.dag.ID, DagID: v.dag.ID, DagRunID: v.run.runID, DagVersion: &dv, Duration: dur, EndDate: s.ts(end),
		ExecutorConfig: "{}", Hostname: nilIfEmpty(host), MapIndex: -1, MaxTries: maxTries, Operator: strp(v.task.Operator),
		OperatorName: strp(v.task.Operator), Pid: pid, Pool: pool, PoolSlots: 1, PriorityWeight: intp(1),
		Queue: strp(queue), QueuedWhen: s.ts(queued), ScheduledWhen: s.ts(queued), StartDate: s.ts(start),
		State: nilIfEmpty(state), TaskDisplayName: v.task.ID, TaskID: v.task.ID, TryNumber: try, Unixname: strp("airflow"),
	}
}

func (s *Server) v2TIOf(v tiView) v2TI {
	_, try, _, _, _, _, _, _, _ := v.fields()
	return v2TI{
		v2TIHistory: s.v2HistoryOf(v), ID: uuidFor("ti", v.dag.ID, v.run.runID, v.task.ID, try),
		LogicalDate: s.ts(v.run.logicalDate), RenderedFields: map[string]any{}, RunAfter: s.tsv(v.run.runAfter),
	}
}
