package slackalert_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
)

func ptime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func newParser(t testing.TB) *slackalert.Parser {
	t.Helper()
	p, err := slackalert.NewParser(nil, []slackalert.Pattern{{
		Name:   "etl_bot",
		Regexp: regexp.MustCompile(`ETL FAILED dag=(?P<dag_id>\S+) task=(?P<task_id>\S+)(?: run=(?P<run_id>\S+))?(?: try=(?P<try_number>\d+))?(?: env=(?P<instance>\S+))?`),
	}})
	require.NoError(t, err)
	return p
}

func TestParseText(t *testing.T) {
	t.Parallel()
	p := newParser(t)
	tests := []struct {
		name string
		text string
		want slackalert.Alert
	}{
		{
			name: "airflow 2 email forwarded, escaped by Slack",
			text: "Airflow alert: &lt;TaskInstance: orders_etl.load_orders scheduled__2026-05-01T00:00:00+00:00 [failed]&gt;\n" +
				"Try 2 out of 3\nException:\npsycopg2.OperationalError: connection to server at \"db.internal\" (10.0.0.5), port 5432 failed\n" +
				"Log: <https://airflow.example.com/log?execution_date=2026-05-01T00%3A00%3A00%2B00%3A00&amp;task_id=load_orders&amp;dag_id=orders_etl&amp;map_index=-1|Link>\n" +
				"Host: worker-3.example.com\n" +
				"Mark success: <https://airflow.example.com/confirm?task_id=load_orders&amp;dag_id=orders_etl&amp;dag_run_id=scheduled__2026-05-01T00%3A00%3A00%2B00%3A00&amp;upstream=false|Link>",
			want: slackalert.Alert{
				Format: "airflow_email", DagID: "orders_etl", TaskID: "load_orders", RunID: "scheduled__2026-05-01T00:00:00+00:00",
				TryNumber: 2, MapIndex: -1, LogicalDate: ptime("2026-05-01T00:00:00Z"),
				Exception: "psycopg2.OperationalError: connection to server at \"db.internal\" (10.0.0.5), port 5432 failed",
				LogURL:    "https://airflow.example.com/log?execution_date=2026-05-01T00%3A00%3A00%2B00%3A00&task_id=load_orders&dag_id=orders_etl&map_index=-1",
				Host:      "worker-3.example.com",
			},
		},
		{
			name: "airflow 2 email, dotted task group id told apart by the log link",
			text: "Airflow alert: <TaskInstance: sales.v2.extract.orders manual__2026-05-01T03:00:00+00:00 map_index=4 [failed]>\n" +
				"Try 1 out of 1\nException:\nKeyError: 'amount'\n" +
				"Log: <https://af.example.com/dags/sales.v2/grid?dag_run_id=manual__2026-05-01T03%3A00%3A00%2B00%3A00&task_id=extract.orders&map_index=4&tab=logs|Link>\nHost: w1",
			want: slackalert.Alert{
				Format: "airflow_email", DagID: "sales.v2", TaskID: "extract.orders", RunID: "manual__2026-05-01T03:00:00+00:00",
				TryNumber: 1, MapIndex: 4, Exception: "KeyError: 'amount'",
				LogURL: "https://af.example.com/dags/sales.v2/grid?dag_run_id=manual__2026-05-01T03%3A00%3A00%2B00%3A00&task_id=extract.orders&map_index=4&tab=logs",
				Host:   "w1",
			},
		},
		{
			name: "airflow 2.1 email names the execution date, not a run",
			text: "Airflow alert: <TaskInstance: billing.invoice 2026-04-30T00:00:00+00:00 [failed]>\nTry 3 out of 3\nException:\nTimeout\nHost: w2",
			want: slackalert.Alert{
				Format: "airflow_email", DagID: "billing", TaskID: "invoice", TryNumber: 3, MapIndex: -1,
				LogicalDate: ptime("2026-04-30T00:00:00Z"), Exception: "Timeout", Host: "w2",
			},
		},
		{
			name: "airflow 3 email renders the runtime task instance",
			text: "Airflow alert: id=UUID('01967a3e-0000-7000-8000-000000000001') task_id='transform' dag_id='orders_etl' " +
				"run_id='manual__2026-05-01T02:00:00+00:00' try_number=2 map_index=-1 hostname='worker-9' context_carrier={}\n" +
				"Try 2 out of 4\nException:\nValueError: column \"amount\" does not exist\n" +
				"Log: <http://airflow3.example.com/dags/orders_etl/runs/manual__2026-05-01T02:00:00+00:00/tasks/transform?try_number=2|Link>\n" +
				"Host: worker-9\nMark success: <http://airflow3.example.com/dags/orders_etl/runs/manual__2026-05-01T02:00:00+00:00/tasks/transform|Link>",
			want: slackalert.Alert{
				Format: "airflow_email", DagID: "orders_etl", TaskID: "transform", RunID: "manual__2026-05-01T02:00:00+00:00",
				TryNumber: 2, MapIndex: -1, Exception: "ValueError: column \"amount\" does not exist",
				LogURL: "http://airflow3.example.com/dags/orders_etl/runs/manual__2026-05-01T02:00:00+00:00/tasks/transform?try_number=2",
				Host:   "worker-9",
			},
		},
		{
			name: "slack callback with an airflow 2 log url",
			text: ":red_circle: Task Failed.\n*Task*: load_orders\n*Dag*: orders_etl\n*Execution Time*: 2026-05-01T00:00:00+00:00\n" +
				"*Log Url*: <http://localhost:8080/log?execution_date=2026-05-01T00%3A00%3A00%2B00%3A00&task_id=load_orders&dag_id=orders_etl|http://localhost:8080/log?execution_date=...>",
			want: slackalert.Alert{
				Format: "airflow_slack", DagID: "orders_etl", TaskID: "load_orders", MapIndex: -1,
				LogicalDate: ptime("2026-05-01T00:00:00Z"),
				LogURL:      "http://localhost:8080/log?execution_date=2026-05-01T00%3A00%3A00%2B00%3A00&task_id=load_orders&dag_id=orders_etl",
			},
		},
		{
			name: "slack callback with an airflow 3 log url names the run and try",
			text: ":rotating_light: @here A DAG just failed in airflow\n*Task*: transform\n* Dag*: orders_etl\n* Execution Time*: 2026-05-01 02:00:00+00:00\n" +
				"* Log Url*: <https://af3.example.com/dags/orders_etl/runs/manual__2026-05-01T02%3A00%3A00%2B00%3A00/tasks/transform/mapped/2?try_number=3>",
			want: slackalert.Alert{
				Format: "airflow_slack", DagID: "orders_etl", TaskID: "transform", RunID: "manual__2026-05-01T02:00:00+00:00",
				TryNumber: 3, MapIndex: 2, LogicalDate: ptime("2026-05-01T02:00:00Z"),
				LogURL: "https://af3.example.com/dags/orders_etl/runs/manual__2026-05-01T02%3A00%3A00%2B00%3A00/tasks/transform/mapped/2?try_number=3",
			},
		},
		{
			name: "astro alert",
			text: "[Astro Alerts] Pipeline failure detected on DAG fail_dag. \nStart time: 2023-11-17 17:32:54 UTC. \nFailed at: 2023-11-17 17:40:10 UTC. \n" +
				"Alert notification time: 2023-11-17 17:40:10 UTC. \nClick link to investigate in Astro UI: " +
				"<https://cloud.astronomer.io/clkya6zgv000401k8zafabcde/dags/clncyz42l6957401bvfuxn8zyxw/fail_dag/c6fbe201-a3f1-39ad-9c5c-817cbf99d123?utm_source=alert>",
			want: slackalert.Alert{Format: "astronomer", DagID: "fail_dag", MapIndex: -1, FailedAt: ptime("2023-11-17T17:40:10Z")},
		},
		{
			name: "custom pattern",
			text: "ETL FAILED dag=finance_daily task=reconcile run=scheduled__2026-05-01T00:00:00+00:00 try=2 env=prod",
			want: slackalert.Alert{
				Format: "custom:etl_bot", DagID: "finance_daily", TaskID: "reconcile", RunID: "scheduled__2026-05-01T00:00:00+00:00",
				TryNumber: 2, MapIndex: -1, Instance: "prod",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.ParseText(tt.text)
			require.NoError(t, err)
			require.Equal(t, &tt.want, got)
		})
	}
}

func TestParseTextUnmatched(t *testing.T) {
	t.Parallel()
	p := newParser(t)
	tests := []struct {
		name   string
		text   string
		reason string
	}{
		{"chatter", "anyone know why the dashboard is slow?", "matches no pattern (tried custom:etl_bot, airflow_email, airflow_slack, astronomer)"},
		{"callback without a task", ":red_circle: Task Failed.\n*Dag*: orders_etl\n*Execution Time*: 2026-05-01T00:00:00+00:00", "airflow_slack: no task_id"},
		{"callback without run or date", "Task Failed\n*Dag*: orders_etl\n*Task*: load", "airflow_slack: no run_id"},
		{"email without its subject ids", "Airflow alert: something\nTry 1 out of 1\nException:\nboom", "airflow_email: no dag_id, no task_id, no run_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.ParseText(tt.text)
			require.ErrorIs(t, err, slackalert.ErrNoMatch)
			var me *slackalert.MatchError
			require.ErrorAs(t, err, &me)
			require.Equal(t, tt.reason, me.Reason())
		})
	}
}

func TestMessageText(t *testing.T) {
	t.Parallel()
	raw := `{
	  "type": "message", "ts": "1700000000.000100", "bot_id": "B0AIRFLOW", "subtype": "bot_message",
	  "attachments": [{"color": "danger", "pretext": ":red_circle: Task Failed.", "fallback": "Task Failed",
	    "fields": [{"title": "Dag", "value": "orders_etl"}, {"title": "Task", "value": "load_orders"},
	               {"title": "Execution Time", "value": "2026-05-01T00:00:00+00:00"}]}],
	  "blocks": [
	    {"type": "header", "text": {"type": "plain_text", "text": "Airflow <failure>"}},
	    {"type": "section", "text": {"type": "mrkdwn", "text": "*Log Url*: <https://af.example.com/dags/orders_etl/grid?dag_run_id=r1&amp;task_id=load_orders|logs>"}},
	    {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Host*: worker-2"}]},
	    {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
	      {"type": "text", "text": "Exception: a < b"}, {"type": "link", "url": "https://example.com/x", "text": "x"}]}]}
	  ]
	}`
	var msg slackapi.Message
	require.NoError(t, json.Unmarshal([]byte(raw), &msg))
	text := slackalert.MessageText(&msg)
	require.Equal(t, ":red_circle: Task Failed.\nDag: orders_etl\nTask: load_orders\nExecution Time: 2026-05-01T00:00:00+00:00\n"+
		"Airflow &lt;failure&gt;\n*Log Url*: <https://af.example.com/dags/orders_etl/grid?dag_run_id=r1&amp;task_id=load_orders|logs>\n"+
		"*Host*: worker-2\nException: a &lt; b<https://example.com/x|x>", text, "the fallback is left out when the attachment has more")

	a, err := newParser(t).Parse(&msg)
	require.NoError(t, err)
	require.Equal(t, &slackalert.Alert{
		Format: "airflow_slack", DagID: "orders_etl", TaskID: "load_orders", RunID: "r1", MapIndex: -1,
		LogicalDate: ptime("2026-05-01T00:00:00Z"), Host: "worker-2", Exception: "a < bx",
		LogURL: "https://af.example.com/dags/orders_etl/grid?dag_run_id=r1&task_id=load_orders",
	}, a)
}

func TestNewParserRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		formats []string
		custom  []slackalert.Pattern
		msg     string
	}{
		{"unknown format", []string{"pagerduty"}, nil, `format "pagerduty" is unknown`},
		{"pattern without groups", []string{"custom"}, []slackalert.Pattern{{Name: "bad", Regexp: regexp.MustCompile(`(?P<dag_id>\S+)`)}}, `pattern "bad": missing named groups task_id`},
	}
	for _, tt := range tests {
		_, err := slackalert.NewParser(tt.formats, tt.custom)
		require.ErrorContains(t, err, tt.msg, tt.name)
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		"Airflow alert: &lt;TaskInstance: a.b r [failed]&gt;\nTry 1 out of 2\nException:\nx\nLog: <http://h/log?dag_id=a&amp;task_id=b|Link>",
		"*Dag*: d\n*Task*: t\n*Log Url*: <https://h/dags/d/runs/r/tasks/t/mapped/1?try_number=2>",
		"[Astro Alerts] Pipeline failure detected on DAG x.\nFailed at: 2023-11-17 17:40:10 UTC.",
		"ETL FAILED dag=a task=b", "<<|>>&amp;<@U1><!here><#C1|x>", strings.Repeat("Task Failed\n", 50),
	} {
		f.Add(s)
	}
	p := newParser(f)
	f.Fuzz(func(t *testing.T, text string) {
		a, err := p.ParseText(text)
		if err != nil {
			require.ErrorIs(t, err, slackalert.ErrNoMatch)
			return
		}
		require.NotEmpty(t, a.DagID)
		for _, v := range []string{a.DagID, a.TaskID, a.RunID, a.Instance, a.Host} {
			require.LessOrEqual(t, len(v), 250)
			require.NotContains(t, v, "|")
		}
		require.LessOrEqual(t, len(a.Exception), incident.MaxExceptionLen)
		require.LessOrEqual(t, len(a.LogURL), 64<<10)
	})
}
