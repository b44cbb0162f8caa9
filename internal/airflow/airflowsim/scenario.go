package airflowsim

import (
	"fmt"
	"time"
)

// Scenario is a scripted Airflow world: DAGs, and a stream of runs to start
// at given offsets from the scenario's start.
type Scenario struct {
	DAGs  []DAG
	Steps []Step
	// DefaultOutcomes scripts runs triggered over the REST API, per DAG (see
	// Server.SetDefaultOutcomes); DAGs not listed succeed.
	DefaultOutcomes map[string]map[string][]Outcome
}

// Step is one scripted run.
type Step struct {
	// At is the offset from the scenario's start at which the run happens.
	At          time.Duration
	DagID       string
	RunID       string
	LogicalDate time.Time
	Outcomes    map[string][]Outcome
	// Note says, for people reading the demo, what this run shows.
	Note string
}

// Load adds the scenario's DAGs and default outcomes to s. It does not start
// any run; call RunStep for each step when its time comes.
func (s *Server) Load(sc Scenario) error {
	for _, d := range sc.DAGs {
		if err := s.AddDAG(d); err != nil {
			return fmt.Errorf("load scenario: %w", err)
		}
	}
	for id, o := range sc.DefaultOutcomes {
		s.SetDefaultOutcomes(id, o)
	}
	return nil
}

// RunStep starts and executes the step's run (see StartRun).
func (s *Server) RunStep(st Step) (*DagRun, error) {
	return s.StartRun(st.DagID, st.RunID, st.LogicalDate, st.Outcomes)
}

func day(n int) time.Time { return time.Date(2026, 5, n, 2, 0, 0, 0, time.UTC) }

func scheduled(n int) string { return "scheduled__" + pyISO(day(n)) }

func fail(log string, d time.Duration) Outcome {
	return Outcome{State: StateFailed, Log: log, Duration: d}
}

// Demo returns the world `medic demo` plays: six DAGs of a small data team
// and fourteen runs over three scheduled days. It covers twelve distinct
// failures; the schema change, the dbt test and the late S3 export recur on
// different days; one run recovers on an in-run retry; one OOM kill fires no
// callback (SilentKill), so only the poller can see it; one run has two
// failing tasks; one log is 5 MB of noise before its error; one log holds
// invalid UTF-8.
func Demo() Scenario {
	dags := []DAG{
		{
			ID: "orders_etl", Description: "Nightly load of shop orders into the warehouse",
			Owners: []string{"data-eng"}, Tags: []string{"orders", "etl", "postgres", "tier-1"}, Schedule: "0 2 * * *",
			Tasks: []Task{
				{ID: "extract_orders", Operator: "PythonOperator", Downstream: []string{"load_orders_staging"}, Retries: 2, RetryDelay: time.Minute},
				{ID: "load_orders_staging", Operator: "PostgresOperator", Downstream: []string{"transform_orders"}, Retries: 1},
				{ID: "transform_orders", Operator: "SQLExecuteQueryOperator", Downstream: []string{"publish_orders"}, Retries: 1},
				{ID: "publish_orders", Operator: "PythonOperator"},
			},
		},
		{
			ID: "customer_dim_dbt", Description: "dbt build and tests of the customer dimension",
			Owners: []string{"analytics-eng"}, Tags: []string{"dbt", "customers", "tier-1"}, Schedule: "30 2 * * *",
			Tasks: []Task{
				{ID: "dbt_run_customers", Operator: "BashOperator", Downstream: []string{"dbt_test_customers"}},
				{ID: "dbt_test_customers", Operator: "BashOperator"},
			},
		},
		{
			ID: "marketing_attribution", Description: "Ad spend import and multi-touch attribution in Snowflake",
			Owners: []string{"marketing-data"}, Tags: []string{"marketing", "snowflake"}, Schedule: "0 4 * * *",
			Tasks: []Task{
				{ID: "fetch_ad_spend", Operator: "HttpOperator", Downstream: []string{"load_ad_spend"}, Retries: 3, RetryDelay: 2 * time.Minute},
				{ID: "load_ad_spend", Operator: "SnowflakeOperator", Downstream: []string{"compute_attribution"}},
				{ID: "compute_attribution", Operator: "SnowflakeOperator"},
			},
		},
		{
			ID: "s3_ingest_events", Description: "Ingest the partner event export from S3",
			Owners: []string{"platform"}, Tags: []string{"s3", "ingest", "events"}, Schedule: "0 1 * * *",
			Tasks: []Task{
				{ID: "wait_for_events", Operator: "S3KeySensor", Downstream: []string{"ingest_events"}},
				{ID: "ingest_events", Operator: "PythonOperator", Downstream: []string{"compact_partitions"}, Retries: 1},
				{ID: "compact_partitions", Operator: "PythonOperator"},
			},
		},
		{
			ID: "finance_reporting", Description: "Daily revenue report and ledger export",
			Owners: []string{"finance-data"}, Tags: []string{"finance", "bigquery", "tier-1"}, Schedule: "0 6 * * *",
			Tasks: []Task{
				{ID: "build_revenue_report", Operator: "BigQueryInsertJobOperator", Downstream: []string{"notify_finance"}},
				{ID: "export_ledger", Operator: "PythonOperator", Downstream: []string{"notify_finance"}},
				{ID: "notify_finance", Operator: "PythonOperator"},
			},
		},
		{
			ID: "ml_feature_build", Description: "Feature tables for the churn model",
			Owners: []string{"ml-platform"}, Tags: []string{"ml", "features"}, Schedule: "0 3 * * *",
			Tasks: []Task{
				{ID: "load_partner_files", Operator: "BashOperator", Downstream: []string{"build_features"}},
				{ID: "build_features", Operator: "KubernetesPodOperator", Downstream: []string{"train_model"}},
				{ID: "train_model", Operator: "PythonOperator"},
			},
		},
	}

	undefinedColumn := LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id")
	dbtFailure := LogDbtTestFailure("not_null_orders_customer_id", 12)
	sensorTimeout := LogS3SensorTimeout("acme-partner-exports", "events/dt=2026-05-01/_SUCCESS")
	oom := Outcome{State: StateFailed, Log: LogWithNoise(HugeLogBytes, LogOOMGrowth(48_000_000)), Duration: 41 * time.Minute, ExitCode: -9, SilentKill: true}

	steps := []Step{
		{
			At: 0, DagID: "orders_etl", RunID: scheduled(1), LogicalDate: day(1),
			Note: "warehouse briefly refuses connections; the in-run retry succeeds",
			Outcomes: map[string][]Outcome{"extract_orders": {
				fail(LogWarehouseConnectionRefused("warehouse.internal", "10.20.3.14"), 4*time.Second),
				Success(""),
			}},
		},
		{
			At: 20 * time.Second, DagID: "customer_dim_dbt", RunID: scheduled(1), LogicalDate: day(1),
			Note:     "dbt not_null test finds 12 orders without a customer",
			Outcomes: map[string][]Outcome{"dbt_test_customers": {fail(dbtFailure, 38*time.Second)}},
		},
		{
			At: 40 * time.Second, DagID: "marketing_attribution", RunID: scheduled(1), LogicalDate: day(1),
			Note: "ads API rate limit exhausts all retries; a later retry succeeds",
			Outcomes: map[string][]Outcome{"fetch_ad_spend": {
				fail(LogHTTP429("https://ads.example.com/v2/reports/spend?date=2026-05-01"), 3*time.Second),
				fail(LogHTTP429("https://ads.example.com/v2/reports/spend?date=2026-05-01"), 3*time.Second),
				fail(LogHTTP429("https://ads.example.com/v2/reports/spend?date=2026-05-01"), 3*time.Second),
				fail(LogHTTP429("https://ads.example.com/v2/reports/spend?date=2026-05-01"), 3*time.Second),
				Success(""),
			}},
		},
		{
			At: time.Minute, DagID: "s3_ingest_events", RunID: scheduled(1), LogicalDate: day(1),
			Note: "partner export is late: the sensor times out; it lands before a retry",
			Outcomes: map[string][]Outcome{"wait_for_events": {
				Outcome{State: StateFailed, Log: sensorTimeout, Duration: time.Hour},
				Success(""),
			}},
		},
		{
			At: 80 * time.Second, DagID: "finance_reporting", RunID: scheduled(1), LogicalDate: day(1),
			Note: "two independent failures in one run: BigQuery permission and a KeyError",
			Outcomes: map[string][]Outcome{
				"build_revenue_report": {fail(LogBigQueryAccessDenied("acme-prod:finance.ledger_entries"), 9*time.Second)},
				"export_ledger":        {fail(LogKeyError("currency_code"), 6*time.Second)},
			},
		},
		{
			At: 100 * time.Second, DagID: "ml_feature_build", RunID: scheduled(1), LogicalDate: day(1),
			Note:     "feature build is OOM-killed after 5 MB of progress logs; no callback fires",
			Outcomes: map[string][]Outcome{"build_features": {oom, Success("")}},
		},
		{
			At: 2 * time.Minute, DagID: "orders_etl", RunID: scheduled(2), LogicalDate: day(2),
			Note:     "upstream renamed a column: UndefinedColumn (retrying cannot help)",
			Outcomes: map[string][]Outcome{"transform_orders": {fail(undefinedColumn, 2*time.Second)}},
		},
		{
			At: 140 * time.Second, DagID: "customer_dim_dbt", RunID: scheduled(2), LogicalDate: day(2),
			Note:     "the same dbt test fails again the next day",
			Outcomes: map[string][]Outcome{"dbt_test_customers": {fail(dbtFailure, 35*time.Second)}},
		},
		{
			At: 160 * time.Second, DagID: "marketing_attribution", RunID: scheduled(2), LogicalDate: day(2),
			Note:     "the attribution query reads a table the role cannot see",
			Outcomes: map[string][]Outcome{"load_ad_spend": {fail(LogSnowflakeObjectMissing("RAW.ADS.AD_SPEND_DAILY"), 5*time.Second)}},
		},
		{
			At: 3 * time.Minute, DagID: "s3_ingest_events", RunID: scheduled(2), LogicalDate: day(2),
			Note: "the export marker landed but a data file is missing: NoSuchKey until the retry after next",
			Outcomes: map[string][]Outcome{
				"wait_for_events": {Outcome{State: StateSuccess, Duration: 10 * time.Minute}},
				"ingest_events": {
					fail(LogS3NoSuchKey("acme-partner-exports", "events/dt=2026-05-02/part-0000.json.gz"), 2*time.Second),
					fail(LogS3NoSuchKey("acme-partner-exports", "events/dt=2026-05-02/part-0000.json.gz"), 2*time.Second),
					Success(""),
				},
			},
		},
		{
			At: 200 * time.Second, DagID: "finance_reporting", RunID: scheduled(2), LogicalDate: day(2),
			Note:     "the ledger export exceeds its execution_timeout",
			Outcomes: map[string][]Outcome{"export_ledger": {fail(LogTaskTimeout(), 30*time.Minute), Success("")}},
		},
		{
			At: 220 * time.Second, DagID: "ml_feature_build", RunID: scheduled(2), LogicalDate: day(2),
			Note:     "a gzip file read as text: binary bytes in the log",
			Outcomes: map[string][]Outcome{"load_partner_files": {fail(LogBinaryGarbage(), 3*time.Second)}},
		},
		{
			At: 4 * time.Minute, DagID: "orders_etl", RunID: scheduled(3), LogicalDate: day(3),
			Note:     "the schema change recurs on the third day",
			Outcomes: map[string][]Outcome{"transform_orders": {fail(undefinedColumn, 2*time.Second)}},
		},
		{
			At: 260 * time.Second, DagID: "s3_ingest_events", RunID: scheduled(3), LogicalDate: day(3),
			Note: "and the partner export is late a third time",
			Outcomes: map[string][]Outcome{"wait_for_events": {
				Outcome{State: StateFailed, Log: LogS3SensorTimeout("acme-partner-exports", "events/dt=2026-05-03/_SUCCESS"), Duration: time.Hour},
				Success(""),
			}},
		},
	}
	return Scenario{DAGs: dags, Steps: steps}
}
