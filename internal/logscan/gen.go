package logscan

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// SecretLineRate is the share of lines (about 1 in 100) that GenerateLog
// plants a secret in.
const SecretLineRate = 0.01

// GenerateLog writes about size bytes of a realistic Airflow task log to w:
// task-runner lines, Spark and dbt output, SQL statements, HTTP calls,
// tracebacks and ordinary lines that mention passwords, tokens and keys
// without holding one. About SecretLineRate of the lines carry a fake
// secret in one of the shapes the built-in rules cover (connection URIs,
// key=value pairs, headers, cloud and SaaS tokens, JWTs wrapped at 80
// columns, multi-line private keys).
//
// It returns every planted secret, each at least 8 bytes: a secret split
// across lines is returned as its parts, one per line. After redaction none
// of them may appear in the text; benchmarks count the ones that do as
// missed. The same seed gives the same log.
func GenerateLog(w io.Writer, size int64, seed int64) (planted []string, err error) {
	g := &logGen{rng: rand.New(rand.NewPCG(uint64(seed), 0x6d65646963)), t: time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)}
	bw := bufio.NewWriterSize(w, 64<<10)
	var written int64
	for written < size {
		var text string
		if g.rng.Float64() < SecretLineRate {
			var secrets []string
			text, secrets = g.secretLine()
			planted = append(planted, secrets...)
		} else {
			text = g.ordinaryLine()
		}
		n, err := bw.WriteString(text + "\n")
		written += int64(n)
		if err != nil {
			return planted, fmt.Errorf("generate log: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return planted, fmt.Errorf("generate log: %w", err)
	}
	return planted, nil
}

type logGen struct {
	rng *rand.Rand
	t   time.Time
}

const (
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperNum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerHex  = "0123456789abcdef"
	base64Set = alnum + "+/"
	pwChars   = alnum + "_-.!#%^*"
)

func (g *logGen) str(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *logGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

// password returns a fake password that always has a digit, so it is
// never mistaken for a word.
func (g *logGen) password() string {
	return g.str(alnum, 2) + g.str(pwChars, 8+g.rng.IntN(10)) + g.str("0123456789", 1) + g.str(alnum, 1)
}

// prefix is the Airflow 2 task-log prefix for a line from source.
func (g *logGen) prefix(source string, level string) string {
	g.t = g.t.Add(time.Duration(g.rng.IntN(900)) * time.Millisecond)
	return fmt.Sprintf("[%s] {%s} %s - ", g.t.Format("2006-01-02, 15:04:05 UTC"), source, level)
}

var (
	dags   = []string{"etl_orders", "dwh_daily", "ml_features", "reverse_etl_hubspot", "dbt_analytics"}
	tasks  = []string{"extract", "load_orders", "transform", "spark_aggregate", "publish", "dbt_run"}
	tables = []string{"sales.orders", "analytics.dim_customers", "raw.events", "staging.payments", "users"}
)

func (g *logGen) ordinaryLine() string {
	dag, task, table := g.pick(dags...), g.pick(tasks...), g.pick(tables...)
	date := g.t.Format("2006-01-02")
	switch g.rng.IntN(24) {
	case 0:
		return g.prefix("taskinstance.py:1157", "INFO") + fmt.Sprintf(
			"Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: %s.%s scheduled__%sT00:00:00+00:00 [queued]>", dag, task, date)
	case 1:
		return g.prefix("taskinstance.py:1359", "INFO") + fmt.Sprintf("Starting attempt %d of 3", 1+g.rng.IntN(3))
	case 2:
		return g.prefix("standard_task_runner.py:60", "INFO") + fmt.Sprintf("Started process %d to run task", 1000+g.rng.IntN(90000))
	case 3:
		return g.prefix("subprocess.py:93", "INFO") + g.t.Format("06/01/02 15:04:05") + " INFO SparkContext: Running Spark version 3.5.1"
	case 4:
		return g.prefix("subprocess.py:93", "INFO") + fmt.Sprintf(
			"%s INFO TaskSetManager: Finished task %d.0 in stage %d.0 (TID %d) in %d ms on 10.0.%d.%d (executor %d) (%d/200)",
			g.t.Format("06/01/02 15:04:05"), g.rng.IntN(200), g.rng.IntN(9), g.rng.IntN(5000), g.rng.IntN(9000),
			g.rng.IntN(255), g.rng.IntN(255), 1+g.rng.IntN(8), g.rng.IntN(200))
	case 5:
		return g.prefix("sql.py:418", "INFO") + fmt.Sprintf(
			"Running statement: SELECT customer_id, SUM(amount) AS total FROM %s WHERE order_date >= '%s' GROUP BY customer_id, parameters: None", table, date)
	case 6:
		return g.prefix("sql.py:427", "INFO") + fmt.Sprintf("Rows affected: %d", g.rng.IntN(100000))
	case 7:
		return g.prefix("base.py:84", "INFO") + fmt.Sprintf("Using connection ID '%s' for task execution.", g.pick("postgres_dwh", "snowflake_default", "aws_default", "google_cloud_default"))
	case 8:
		return g.prefix("logging_mixin.py:188", "INFO") + fmt.Sprintf("Processed %d records in %.2fs", g.rng.IntN(1000000), g.rng.Float64()*30)
	case 9:
		return g.prefix("taskinstance.py:2905", "ERROR") + "Task failed with exception"
	case 10:
		return "Traceback (most recent call last):\n" +
			fmt.Sprintf("  File \"/opt/airflow/dags/%s.py\", line %d, in %s\n", dag, 10+g.rng.IntN(300), task) +
			"    cursor.execute(sql, parameters)\n" +
			"psycopg2.errors.UndefinedColumn: column \"customer_id\" does not exist"
	case 11:
		return g.prefix("http.py:175", "INFO") + fmt.Sprintf("Sending 'GET' to url: https://api.example.com/v1/orders?page=%d&per_page=100", g.rng.IntN(50))
	case 12:
		return g.prefix("warnings.py:110", "WARNING") +
			"/home/airflow/.local/lib/python3.11/site-packages/airflow/models/baseoperator.py:1201: DeprecationWarning: The 'schedule_interval' parameter is deprecated"
	case 13:
		return g.prefix("taskinstance.py:2905", "ERROR") + "psycopg2.OperationalError: connection to server at \"db.internal\" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user \"etl\""
	case 14:
		return g.prefix("dbt_hook.py:91", "INFO") + fmt.Sprintf("%s  %d of 12 START sql table model analytics.dim_customers ......... [RUN]", g.t.Format("15:04:05"), 1+g.rng.IntN(12))
	case 15:
		return g.prefix("taskinstance.py:1400", "INFO") + fmt.Sprintf(
			"Marking task as SUCCESS. dag_id=%s, task_id=%s, execution_date=%sT000000, start_date=%sT020000, end_date=%sT020512", dag, task, date, date, date)
	case 16:
		return g.prefix("xcom.py:664", "INFO") + "Pushing xcom key=return_value map_index=-1"
	case 17:
		return g.prefix("s3.py:1205", "INFO") + fmt.Sprintf("Uploading /tmp/tmp%s/part-0000.parquet to s3://warehouse-bucket/raw/orders/dt=%s/part-0000.parquet", g.str(lowerHex, 8), date)
	case 18:
		return g.prefix("local_task_job_runner.py:234", "INFO") + "Task exited with return code 0"
	case 19:
		return g.prefix("credentials_provider.py:353", "INFO") + "Getting connection using `google.auth.default()` since no key file is defined for hook."
	case 20:
		return g.prefix("http.py:201", "WARNING") + "Token Expired, refreshing access token with the token_type bearer"
	case 21:
		return g.prefix("pod_manager.py:439", "INFO") + fmt.Sprintf("Pod %s-%s-%s has phase Running", dag, task, g.str(lowerHex, 6))
	case 22:
		return g.prefix("sql.py:418", "INFO") + fmt.Sprintf("Running statement: UPDATE users SET password_hash = crypt(%%s, gen_salt('bf')), updated_at = now() WHERE id = %d", g.rng.IntN(9999))
	default:
		return g.prefix("logging_mixin.py:188", "INFO") + fmt.Sprintf("Loaded %d rows into %s (batch %d of %d)", g.rng.IntN(50000), table, g.rng.IntN(10), 10)
	}
}

// secretLine returns one log record (possibly several lines) holding fake
// secrets, and the secrets.
func (g *logGen) secretLine() (string, []string) {
	p := g.prefix("logging_mixin.py:188", "INFO")
	pw := g.password()
	switch g.rng.IntN(26) {
	case 0:
		return p + fmt.Sprintf("Connection: postgres://etl:%s@db.internal:5432/warehouse", pw), []string{pw}
	case 1:
		return p + fmt.Sprintf("AIRFLOW_CONN_SNOWFLAKE_DEFAULT=snowflake://etl:%s@xy12345/analytics/public?warehouse=wh&role=etl", pw), []string{pw}
	case 2:
		k := "AKIA" + g.str(upperNum, 16)
		return p + "export AWS_ACCESS_KEY_ID=" + k, []string{k}
	case 3:
		k := g.str(base64Set, 40)
		return p + "aws_secret_access_key = " + k, []string{k}
	case 4:
		return p + fmt.Sprintf("snowflake.connector.connect(user='etl', password='%s', account='xy12345', warehouse='wh')", pw), []string{pw}
	case 5:
		return p + "SNOWFLAKE_PASSWORD=" + pw, []string{pw}
	case 6:
		jwt := g.jwt()
		return p + "Sending request with headers {'Authorization': 'Bearer " + jwt + "'}", []string{jwt}
	case 7:
		id := g.str(lowerHex, 40)
		return p + fmt.Sprintf(`keyfile_dict={"type": "service_account", "project_id": "acme-dwh", "private_key_id": "%s", "client_email": "etl@acme-dwh.iam.gserviceaccount.com"}`, id), []string{id}
	case 8:
		t := "xoxb-" + g.str("0123456789", 12) + "-" + g.str("0123456789", 13) + "-" + g.str(alnum, 24)
		return p + "Posting to Slack with token " + t, []string{t}
	case 9:
		t := "ghp_" + g.str(alnum, 36)
		return p + fmt.Sprintf("git clone https://x-access-token:%s@github.com/acme/dags.git", t), []string{t}
	case 10:
		cred := base64.StdEncoding.EncodeToString([]byte("etl:" + pw))
		return p + "curl -sS -H 'Authorization: Basic " + cred + "' https://api.example.com/v1/export", []string{cred}
	case 11:
		k := "sk_live_" + g.str(alnum, 24)
		return p + "stripe.api_key set to " + k, []string{k}
	case 12:
		k := g.str(lowerHex, 32)
		return p + fmt.Sprintf("Calling https://api.example.com/v2/items?api_key=%s&page=1", k), []string{k}
	case 13:
		return g.pemBlock()
	case 14:
		return g.wrappedJWT()
	case 15:
		t := "dapi" + g.str(lowerHex, 32)
		return p + `databricks: {"host": "https://adb-123.azuredatabricks.net", "token": "` + t + `"}`, []string{t}
	case 16:
		k := "sk-proj-" + g.str(alnum+"_-", 48)
		return p + "OPENAI_API_KEY=" + k, []string{k}
	case 17:
		return p + "Running: airflow connections add pg_dwh --conn-type postgres --conn-login etl --conn-password " + pw + " --conn-host db", []string{pw}
	case 18:
		return p + fmt.Sprintf("Connecting to redis://:%s@cache.internal:6379/0", pw), []string{pw}
	case 19:
		return p + fmt.Sprintf("MONGO_URI=mongodb+srv://app:%s@cluster0.ab1cd.mongodb.net/prod?retryWrites=true", pw), []string{pw}
	case 20:
		k := "AIza" + g.str(alnum+"_-", 35)
		return p + "Using Maps key " + k, []string{k}
	case 21:
		k := g.str(base64Set, 86) + "=="
		return p + "DefaultEndpointsProtocol=https;AccountName=acmedata;AccountKey=" + k + ";EndpointSuffix=core.windows.net", []string{k}
	case 22:
		return p + fmt.Sprintf("<connection><user>etl</user><password>%s</password></connection>", pw), []string{pw}
	case 23:
		return g.prefix("sql.py:418", "INFO") + fmt.Sprintf("Running statement: ALTER USER etl WITH PASSWORD '%s'", pw), []string{pw}
	case 24:
		return p + fmt.Sprintf(`{"conn_type": "mysql", "host": "db", "login": "etl", "password": "%s", "port": 3306}`, pw), []string{pw}
	default:
		t := "glpat-" + g.str(alnum+"_-", 20)
		return p + "GITLAB_TOKEN=" + t, []string{t}
	}
}

func (g *logGen) jwt() string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"%s","iat":%d,"scope":"read write"}`, g.str(alnum, 12), 1700000000+g.rng.IntN(1e8))))
	return head + "." + body + "." + g.str(alnum+"_-", 43)
}

// pemBlock is a private key logged line by line, as a misconfigured task
// prints a key file.
func (g *logGen) pemBlock() (string, []string) {
	var b strings.Builder
	b.WriteString(g.prefix("logging_mixin.py:188", "INFO") + "Loaded key file:\n-----BEGIN RSA PRIVATE KEY-----\n")
	var planted []string
	for range 4 + g.rng.IntN(20) {
		l := g.str(base64Set, 64)
		planted = append(planted, l)
		b.WriteString(l + "\n")
	}
	l := g.str(base64Set, 20+g.rng.IntN(40)) + "=="
	planted = append(planted, l)
	b.WriteString(l + "\n-----END RSA PRIVATE KEY-----")
	return b.String(), planted
}

// wrappedJWT is a bearer token in a line hard-wrapped at 80 columns.
func (g *logGen) wrappedJWT() (string, []string) {
	line := g.prefix("http.py:175", "DEBUG") + "Authorization: Bearer " + g.jwt() + " sent"
	var parts, planted []string
	for len(line) > 80 {
		parts = append(parts, line[:80])
		line = line[80:]
	}
	parts = append(parts, line)
	for i, part := range parts {
		s := part
		if i == 0 {
			_, s, _ = strings.Cut(part, "Bearer ")
		}
		s = strings.TrimSuffix(s, " sent")
		if len(s) >= 8 {
			planted = append(planted, s)
		}
	}
	return strings.Join(parts, "\n"), planted
}
