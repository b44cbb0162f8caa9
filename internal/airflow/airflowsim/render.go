package airflowsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The JSON shapes in render_v1.go and render_v2.go follow the spec schemas
// field by field: DAG,
// DAGDetail, Task, DAGRun, TaskInstance, TaskInstanceReference for 2.x;
// DAGResponse, DAGDetailsResponse, TaskResponse, DAGRunResponse,
// TaskInstanceResponse, TaskInstanceHistoryResponse for 3.x. Pointers are the
// nullable fields; required fields are always present. This file holds what
// both versions share.

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

// ts formats a nullable timestamp the version's way: Python isoformat
// ("+00:00") for 2.x, pydantic ("Z") for 3.x.
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

// tiJSON renders one TI row in the version's TaskInstance schema.
func (s *Server) tiJSON(v tiView) any {
	if s.version == 3 {
		return s.v2TIOf(v)
	}
	return s.v1TIOf(v)
}
