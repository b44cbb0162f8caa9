package airflowsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The JSON shapes below follow the spec schemas field by field: DAG,
// DAGDetail, Task, DAGRun, TaskInstance, TaskInstanceReference for 2.x;
// DAGResponse, DAGDetailsResponse, TaskResponse, DAGRunResponse,
// TaskInstanceResponse, TaskInstanceHistoryResponse for 3.x. Pointers are the
// nullable fields; required fields are always present.

type timeDelta struct {
	Type         string `json:"__type"`
	Days         int    `json:"days"`
	Seconds      int    `json:"seconds"`
	Microseconds int    `json:"microseconds"`
}

func newTimeDelta(d time.Duration) *timeDelta {
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	return &timeDelta{Type: "TimeDelta", Days: days, Seconds: int(d / time.Second), Microseconds: int(d%time.Second) / 1000}
}

type classRef struct {
	ClassName  string `json:"class_name"`
	ModulePath string `json:"module_path"`
}

type cronExpr struct {
	Type  string `json:"__type"`
	Value string `json:"value"`
}

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

// --- builders --------------------------------------------------------------

func (s *Server) ts(t *time.Time) *string {
	if t == nil {
		return nil
	}
	if s.version == 3 {
		return strp(v2Time(*t))
	}
	return strp(pyISO(*t))
}

func (s *Server) tsv(t time.Time) string { return *s.ts(&t) }

func boolp(b bool) *bool      { return &b }
func intp(i int) *int         { return &i }
func f64p(f float64) *float64 { return &f }
func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) fileToken(d *dagState) string {
	data, _ := json.Marshal(d.FileLoc)
	return base64.RawURLEncoding.EncodeToString(data) + "." + strings.TrimRight(base64.RawURLEncoding.EncodeToString(hmacSHA512(s.secret, data)[:20]), "=")
}

// cronDescription is a short human description of common schedules, like
// the timetable_description Airflow derives with cron-descriptor.
func cronDescription(schedule string) string {
	switch schedule {
	case "":
		return "Never, external triggers only"
	case "@daily", "0 0 * * *":
		return "At 00:00"
	case "@hourly", "0 * * * *":
		return "At 0 minutes past the hour"
	case "@weekly":
		return "At 00:00, only on Sunday"
	}
	f := strings.Fields(schedule)
	if len(f) == 5 && f[2] == "*" && f[3] == "*" && f[4] == "*" {
		var h, m int
		if _, err := fmt.Sscanf(f[1]+" "+f[0], "%d %d", &h, &m); err == nil {
			return fmt.Sprintf("At %02d:%02d", h, m)
		}
	}
	return schedule
}

func (s *Server) dagVersion(d *dagState) v2DagVersion {
	return v2DagVersion{
		BundleName: strp("dags-folder"), CreatedAt: v2Time(d.created), DagDisplayName: d.ID, DagID: d.ID,
		ID: uuidFor("dag-version", d.ID, 1), VersionNumber: 1,
	}
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

// operatorModule is where each operator class lives, per version.
func operatorModule(version int, op string) string {
	std := "airflow.operators"
	if version == 3 {
		std = "airflow.providers.standard.operators"
	}
	switch op {
	case "PythonOperator", "BranchPythonOperator":
		return std + ".python"
	case "BashOperator":
		return std + ".bash"
	case "EmptyOperator":
		return std + ".empty"
	case "PostgresOperator":
		return "airflow.providers.postgres.operators.postgres"
	case "SQLExecuteQueryOperator":
		return "airflow.providers.common.sql.operators.sql"
	case "SnowflakeOperator", "SnowflakeSqlApiOperator":
		return "airflow.providers.snowflake.operators.snowflake"
	case "S3KeySensor":
		return "airflow.providers.amazon.aws.sensors.s3"
	case "BigQueryInsertJobOperator":
		return "airflow.providers.google.cloud.operators.bigquery"
	case "HttpOperator", "SimpleHttpOperator":
		return "airflow.providers.http.operators.http"
	case "KubernetesPodOperator":
		return "airflow.providers.cncf.kubernetes.operators.pod"
	}
	return "airflow.models.baseoperator"
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

func (s *Server) v1RunOf(r *runState) v1DAGRun {
	return v1DAGRun{
		Conf: r.conf, DagID: r.dagID, DagRunID: strp(r.runID), DataIntervalEnd: s.ts(r.intervalE), DataIntervalStart: s.ts(r.intervalS),
		EndDate: s.ts(r.endDate), ExecutionDate: s.ts(r.logicalDate), ExternalTrigger: r.runType != "scheduled",
		LastSchedulingDecision: s.ts(r.lastSched), LogicalDate: s.ts(r.logicalDate), Note: r.note,
		RunType: r.runType, StartDate: s.ts(r.startDate), State: r.state,
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

// tiView is one row to render: the live TI, or one try of it from history.
type tiView struct {
	dag  *dagState
	run  *runState
	ti   *tiState
	rec  *tryRecord // nil: render the live row
	task *Task
}

func (v tiView) fields() (state string, try, maxTries int, start, end *time.Time, dur *float64, host string, pid *int, queued *time.Time) {
	if v.rec != nil {
		d := v.rec.end.Sub(v.rec.start).Seconds()
		p := v.rec.pid
		return v.rec.state, v.rec.try, v.rec.maxTries, &v.rec.start, &v.rec.end, &d, v.rec.hostname, &p, &v.rec.queued
	}
	host = ""
	if v.ti.tryNumber > 0 {
		host = v.ti.hostname
	}
	return v.ti.state, v.ti.tryNumber, v.ti.maxTries, v.ti.start, v.ti.end, v.ti.duration, host, v.ti.pid, v.ti.queuedWhen
}

func (s *Server) v1TIOf(v tiView) v1TI {
	state, try, maxTries, start, end, dur, host, pid, queued := v.fields()
	ld := ""
	if v.run.logicalDate != nil {
		ld = pyISO(*v.run.logicalDate)
	}
	return v1TI{
		DagID: v.dag.ID, DagRunID: v.run.runID, Duration: dur, EndDate: s.ts(end), ExecutionDate: ld,
		ExecutorConfig: "{}", Hostname: host, MapIndex: -1, MaxTries: maxTries, Operator: strp(v.task.Operator), Pid: pid,
		Pool: v.task.Pool, PoolSlots: 1, PriorityWeight: intp(1), Queue: strp(v.task.Queue), QueuedWhen: s.ts(queued),
		RenderedFields: map[string]any{}, StartDate: s.ts(start), State: nilIfEmpty(state), TaskDisplayName: v.task.ID,
		TaskID: v.task.ID, TryNumber: try, Unixname: "airflow",
	}
}

func (s *Server) v2HistoryOf(v tiView) v2TIHistory {
	state, try, maxTries, start, end, dur, host, pid, queued := v.fields()
	dv := s.dagVersion(v.dag)
	return v2TIHistory{
		DagDisplayName: v.dag.ID, DagID: v.dag.ID, DagRunID: v.run.runID, DagVersion: &dv, Duration: dur, EndDate: s.ts(end),
		ExecutorConfig: "{}", Hostname: nilIfEmpty(host), MapIndex: -1, MaxTries: maxTries, Operator: strp(v.task.Operator),
		OperatorName: strp(v.task.Operator), Pid: pid, Pool: v.task.Pool, PoolSlots: 1, PriorityWeight: intp(1),
		Queue: strp(v.task.Queue), QueuedWhen: s.ts(queued), ScheduledWhen: s.ts(queued), StartDate: s.ts(start),
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

// tiJSON renders one TI row in the version's TaskInstance schema.
func (s *Server) tiJSON(v tiView) any {
	if s.version == 3 {
		return s.v2TIOf(v)
	}
	return s.v1TIOf(v)
}
