package logscan_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

const (
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerHex = "0123456789abcdef"
	b64      = alnum + "+/"
)

// fake returns n characters of alphabet, the same for the same seed, for
// secrets of the right shape that belong to nobody.
func fake(seed uint32, alphabet string, n int) string {
	b := make([]byte, n)
	x := seed*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return string(b)
}

type ruleCase struct {
	in     string
	secret string // "" for a negative case: the line must come back unchanged
}

// ruleCases holds, for every built-in rule, lines it must redact (with the
// secret that must disappear and the placeholder that must appear) and
// lines it must leave alone.
func ruleCases() map[string][]ruleCase {
	pw := "Xk9" + fake(1, alnum, 12) + "7q"
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"etl","iat":1700000000}`)) + "." + fake(2, alnum+"_-", 43)
	akia := "AKIA" + fake(3, upperNum, 16)
	awsSecret := fake(4, b64, 40)
	basic := base64.StdEncoding.EncodeToString([]byte("etl:" + pw))
	pemBody := fake(5, b64, 64)
	return map[string][]ruleCase{
		"private_key": {
			{in: `"private_key": "-----BEGIN PRIVATE KEY-----\n` + pemBody + `\n-----END PRIVATE KEY-----\n",`, secret: pemBody},
			{in: "key: -----BEGIN OPENSSH PRIVATE KEY----- " + pemBody, secret: pemBody},
			{in: "-----BEGIN CERTIFICATE----- MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa"},
			{in: "ValueError: Could not deserialize key data. The data may be in an incorrect format"},
		},
		"age_secret_key": {
			{in: "AGE-SECRET-KEY-1" + fake(6, upperNum, 58), secret: fake(6, upperNum, 58)},
			{in: "decrypting with age-secret-key from vault"},
		},
		"aws_access_key": {
			{in: "using " + akia + " for s3", secret: akia},
			{in: "export AWS_ACCESS_KEY_ID=ASIA" + fake(7, upperNum, 16), secret: "ASIA" + fake(7, upperNum, 16)},
			{in: "scheduler timezone is Asia/Kolkata"},
		},
		"aws_secret_key": {
			{in: "aws_secret_access_key = " + awsSecret, secret: awsSecret},
			{in: `{"AccessKeyId": "x", "SecretAccessKey": "` + awsSecret + `"}`, secret: awsSecret},
			{in: "AWS_SECRET_ACCESS_KEY=" + awsSecret, secret: awsSecret},
			{in: "botocore.exceptions.NoCredentialsError: aws_secret_access_key is not set"},
		},
		"aws_session_token": {
			{in: "AWS_SESSION_TOKEN=" + fake(8, b64, 200), secret: fake(8, b64, 200)},
			{in: "refreshing aws session token before expiry"},
		},
		"gcp_api_key": {
			{in: "maps key AIza" + fake(9, alnum+"_-", 35), secret: "AIza" + fake(9, alnum+"_-", 35)},
			{in: "keys look like AIza followed by 35 characters"},
		},
		"gcp_private_key_id": {
			{in: `{"type": "service_account", "private_key_id": "` + fake(10, lowerHex, 40) + `"}`, secret: fake(10, lowerHex, 40)},
			{in: `"extra__google_cloud_platform__keyfile_dict": "{\"private_key_id\": \"` + fake(11, lowerHex, 40) + `\"}"`, secret: fake(11, lowerHex, 40)},
			{in: `{"private_key_id": null}`},
		},
		"gcp_oauth_client_secret": {
			{in: "client GOCSPX-" + fake(12, alnum+"_-", 28), secret: fake(12, alnum+"_-", 28)},
			{in: "GOCSPX- is the prefix of Google client secrets"},
		},
		"google_oauth_token": {
			{in: "access ya29." + fake(13, alnum+"_-", 120), secret: fake(13, alnum+"_-", 120)},
			{in: "ya29.short"},
		},
		"azure_storage_key": {
			{in: "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + fake(14, b64, 86) + "==;EndpointSuffix=core.windows.net", secret: fake(14, b64, 86)},
			{in: "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + fake(15, b64, 43) + "=", secret: fake(15, b64, 43)},
			{in: "AccountKey rotation is scheduled for Monday"},
		},
		"azure_sas_signature": {
			{in: "GET https://acme.blob.core.windows.net/raw/o.csv?sv=2022-11-02&ss=b&srt=o&sp=r&sig=" + fake(16, alnum, 40) + "%3D", secret: fake(16, alnum, 40)},
			{in: "sig=short"},
		},
		"azure_client_secret": {
			{in: `AZURE_CLIENT_SECRET="abc8Q~` + fake(17, alnum+"_~.-", 34) + `"`, secret: fake(17, alnum+"_~.-", 34)},
			{in: "option 8Q~ is unrelated"},
		},
		"databricks_token": {
			{in: "DATABRICKS_TOKEN dapi" + fake(18, lowerHex, 32), secret: "dapi" + fake(18, lowerHex, 32)},
			{in: "the dapi prefix marks Databricks tokens"},
		},
		"digitalocean_token": {
			{in: "doctl auth init -t dop_v1_" + fake(19, lowerHex, 64), secret: fake(19, lowerHex, 64)},
			{in: "dop_v1_ tokens expire"},
		},
		"slack_token": {
			{in: "token xoxb-123456789012-1234567890123-" + fake(20, alnum, 24), secret: fake(20, alnum, 24)},
			{in: "xoxp-" + fake(21, "0123456789", 12) + "-" + fake(22, alnum, 30), secret: fake(22, alnum, 30)},
			{in: "xoxo, the team"},
		},
		"slack_app_token": {
			{in: "SLACK_APP xapp-1-A0123ABCD-1234567890123-" + fake(23, lowerHex, 64), secret: fake(23, lowerHex, 64)},
			{in: "see the xapp-1 docs"},
		},
		"slack_webhook": {
			{in: "posting to https://hooks.slack.com/services/T0123ABCD/B0123ABCD/" + fake(24, alnum, 24), secret: fake(24, alnum, 24)},
			{in: "https://hooks.slack.com/ returned 500"},
		},
		"github_pat": {
			{in: "GITHUB_TOKEN ghp_" + fake(25, alnum, 36), secret: "ghp_" + fake(25, alnum, 36)},
			{in: "ghp_short is not a token"},
		},
		"github_oauth_token": {
			{in: "gho_" + fake(26, alnum, 36), secret: "gho_" + fake(26, alnum, 36)},
			{in: "gho_ prefix"},
		},
		"github_app_token": {
			{in: "installation token ghs_" + fake(27, alnum, 36), secret: "ghs_" + fake(27, alnum, 36)},
			{in: "ghu_" + fake(28, alnum, 36), secret: "ghu_" + fake(28, alnum, 36)},
			{in: "ghs_ and ghu_ prefixes"},
		},
		"github_refresh_token": {
			{in: "ghr_" + fake(29, alnum, 76), secret: "ghr_" + fake(29, alnum, 76)},
			{in: "ghr_ prefix"},
		},
		"github_fine_grained_pat": {
			{in: "github_pat_11" + fake(30, alnum, 20) + "_" + fake(31, alnum, 59), secret: fake(31, alnum, 59)},
			{in: "github_pat_ tokens are fine-grained"},
		},
		"gitlab_pat": {
			{in: "GITLAB_TOKEN=glpat-" + fake(32, alnum, 20), secret: fake(32, alnum, 20)},
			{in: "glpat- prefix"},
		},
		"gitlab_runner_token": {
			{in: "--token glrt-" + fake(33, alnum, 20), secret: fake(33, alnum, 20)},
			{in: "registration GR1348941" + fake(34, alnum, 20), secret: fake(34, alnum, 20)},
			{in: "glrt- runner tokens"},
		},
		"gitlab_token": {
			{in: "deploy gldt-" + fake(35, alnum, 20), secret: fake(35, alnum, 20)},
			{in: "trigger glptt-" + fake(36, lowerHex, 40), secret: fake(36, lowerHex, 40)},
			{in: "gldt- deploy tokens"},
		},
		"npm_token": {
			{in: "//registry.npmjs.org/:_authToken=npm_" + fake(37, alnum, 36), secret: fake(37, alnum, 36)},
			{in: "npm_config_cache=/tmp/npm"},
		},
		"pypi_token": {
			{in: "TWINE_PASSWORD pypi-AgEIcHlwaS5vcmc" + fake(38, alnum+"_-", 70), secret: fake(38, alnum+"_-", 70)},
			{in: "pypi-AgE tokens start so"},
		},
		"docker_hub_token": {
			{in: "docker login -u acme -p dckr_pat_" + fake(39, alnum+"_-", 27), secret: fake(39, alnum+"_-", 27)},
			{in: "dckr_pat_ prefix"},
		},
		"huggingface_token": {
			{in: "HF hf_" + fake(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34), secret: fake(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)},
			{in: "hf_hub_download(repo_id='bert-base')"},
		},
		"vault_token": {
			{in: "VAULT hvs." + fake(41, alnum+"_-", 90), secret: fake(41, alnum+"_-", 90)},
			{in: "hvs. tokens are service tokens"},
		},
		"grafana_token": {
			{in: "glsa_" + fake(42, alnum, 32) + "_" + fake(43, lowerHex, 8), secret: fake(42, alnum, 32)},
			{in: "glc_" + fake(44, alnum, 60) + "==", secret: fake(44, alnum, 60)},
			{in: "glsa_ service account tokens"},
		},
		"shopify_token": {
			{in: "shpat_" + fake(45, lowerHex, 32), secret: fake(45, lowerHex, 32)},
			{in: "shpat_ admin tokens"},
		},
		"stripe_key": {
			{in: "stripe.api_key = sk_live_" + fake(46, alnum, 24), secret: fake(46, alnum, 24)},
			{in: "rk_test_" + fake(47, alnum, 30), secret: fake(47, alnum, 30)},
			{in: "sk_live_ keys are live keys"},
		},
		"stripe_webhook_secret": {
			{in: "whsec_" + fake(48, alnum, 32), secret: fake(48, alnum, 32)},
			{in: "whsec_ prefix"},
		},
		"twilio_api_key": {
			{in: "TWILIO key SK" + fake(49, lowerHex, 32), secret: fake(49, lowerHex, 32)},
			{in: "task skipped: SKIPPED"},
		},
		"twilio_auth_token": {
			{in: "twilio_auth_token: " + fake(50, lowerHex, 32), secret: fake(50, lowerHex, 32)},
			{in: "twilio client created"},
		},
		"sendgrid_api_key": {
			{in: "SG." + fake(51, alnum+"_-", 22) + "." + fake(52, alnum+"_-", 43), secret: fake(52, alnum+"_-", 43)},
			{in: "msg.format() failed"},
		},
		"anthropic_api_key": {
			{in: "ANTHROPIC sk-ant-api03-" + fake(53, alnum+"_-", 93) + "AA", secret: fake(53, alnum+"_-", 93)},
			{in: "sk-ant- keys"},
		},
		"openai_api_key": {
			{in: "OpenAI(api=sk-proj-" + fake(54, alnum+"_-", 48) + ")", secret: fake(54, alnum+"_-", 48)},
			{in: "sk-" + fake(55, alnum, 48), secret: fake(55, alnum, 48)},
			{in: "task-runner-3 finished"},
		},
		"jwt": {
			{in: "id_token " + jwt, secret: jwt},
			{in: "eyJ is what base64 JSON starts with"},
		},
		"auth_header": {
			{in: "Authorization: Bearer " + fake(56, alnum, 30), secret: fake(56, alnum, 30)},
			{in: `curl -H "authorization: token ` + fake(57, alnum, 30) + `" https://x`, secret: fake(57, alnum, 30)},
			{in: `headers={'Authorization': 'Basic ` + basic + `'}`, secret: basic},
			{in: "AUTHORIZATION:ApiKey " + fake(58, alnum, 20), secret: fake(58, alnum, 20)},
			{in: "authorization failed for user etl"},
		},
		"bearer_token": {
			{in: "retrying with bearer " + fake(59, alnum, 20), secret: fake(59, alnum, 20)},
			{in: "Bearer authentication is required"},
			{in: "WARNING - Token Expired: bearer token refresh scheduled"},
		},
		"basic_auth": {
			{in: "using Basic " + basic + " credentials", secret: basic},
			{in: "Basic authentication failed"},
		},
		"cookie_header": {
			{in: "Cookie: session=" + fake(60, alnum, 32) + "; csrftoken=abc", secret: fake(60, alnum, 32)},
			{in: "cookie policy accepted"},
		},
		"url_password": {
			{in: "postgresql://etl:" + pw + "@db.internal:5432/wh", secret: pw},
			{in: "mysql+pymysql://root:" + pw + "@mysql:3306/app", secret: pw},
			{in: "snowflake://etl:" + pw + "@xy12345/db/schema?warehouse=wh", secret: pw},
			{in: "redis://:" + pw + "@cache:6379/0", secret: pw},
			{in: "amqp://guest:" + pw + "@rabbit:5672//", secret: pw},
			{in: "mongodb+srv://app:" + pw + "@cluster0.abc.mongodb.net/db", secret: pw},
			{in: "GET https://admin:" + pw + "@nexus.internal/repo", secret: pw},
			{in: "AIRFLOW_CONN_PG_DWH=postgres://etl:" + pw + "@db:5432/dwh", secret: pw},
			{in: "airflow connections add pg --conn-uri 'postgres://etl:" + pw + "@db:5432/dwh'", secret: pw},
			{in: "postgres://etl:p@ss" + pw + "@db/x", secret: "p@ss" + pw},
			{in: "https://airflow.example.com:8080/dags/etl/grid"},
			{in: "mail etl@example.com about https://example.com/a:b"},
		},
		"cli_secret_flag": {
			{in: "airflow connections add pg --conn-type postgres --conn-password " + pw + " --conn-host db", secret: pw},
			{in: "mysql --user etl --password '" + pw + "' db", secret: pw},
			{in: "vault login --token-file /run/vault/token"},
		},
		"sql_password": {
			{in: "ALTER USER etl WITH PASSWORD '" + pw + "'", secret: pw},
			{in: "CREATE USER etl IDENTIFIED BY '" + pw + "'", secret: pw},
			{in: "SELECT password_hash, password_changed_at FROM users WHERE id = 7"},
		},
		"xml_secret": {
			{in: "<password>" + pw + "</password>", secret: pw},
			{in: `<ns:apiToken type="x">` + pw + `</ns:apiToken>`, secret: pw},
			{in: "<tokenType>Bearer</tokenType>"},
		},
		"auth_tuple": {
			{in: "requests.get(url, auth=('etl', '" + pw + "'))", secret: pw},
			{in: "requests.get(url, auth=None)"},
		},
		"password_pair": {
			{in: "conn password=" + pw + " host=x", secret: pw},
			{in: `{"password": "` + pw + `"}`, secret: pw},
			{in: `{"password":"with \"quote\" ` + pw + `"}`, secret: pw},
			{in: "password: " + pw, secret: pw},
			{in: ":password => '" + pw + "'", secret: pw},
			{in: `PASSWORD="` + pw + `"`, secret: pw},
			{in: "SNOWFLAKE_PASSWORD=" + pw, secret: pw},
			{in: "connect(user='etl', password='" + pw + "', account='xy')", secret: pw},
			{in: "{'db_passwd': '" + pw + "'}", secret: pw},
			{in: "Driver={ODBC};Server=db;UID=etl;PWD=" + pw + ";", secret: pw},
			{in: `"private_key_passphrase": "` + pw + `"`, secret: pw},
			{in: `extra='{\"password\": \"` + pw + `\"}'`, secret: pw},
			{in: "password := " + pw, secret: pw},
			{in: "Login: etl, Password: ***, extra: {}"},
			{in: "password_file=/run/secrets/db"},
			{in: "password=None"},
			{in: "PWD=/opt/airflow"},
			{in: "cat: /run/secrets/db_password: No such file or directory"},
			{in: "password=${DB_PASSWORD}"},
			{in: "password authentication failed for user \"etl\""},
		},
		"api_key_pair": {
			{in: "api_key=" + fake(61, lowerHex, 32), secret: fake(61, lowerHex, 32)},
			{in: `{"apiKey": "` + fake(62, alnum, 24) + `"}`, secret: fake(62, alnum, 24)},
			{in: "X-API-Key: " + fake(63, alnum, 24), secret: fake(63, alnum, 24)},
			{in: "secret_key = '" + pw + "'", secret: pw},
			{in: "api_key_name=etl-reader"},
		},
		"secret_pair": {
			{in: `{"client_secret": "` + pw + `"}`, secret: pw},
			{in: "AIRFLOW__WEBSERVER__SECRET=" + pw, secret: pw},
			{in: "credentials: " + pw, secret: pw},
			{in: "secret_name=prod/etl/db"},
			{in: "secrets_backend=airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"},
		},
		"token_pair": {
			{in: `{"access_token": "` + fake(64, alnum, 40) + `", "token_type": "bearer"}`, secret: fake(64, alnum, 40)},
			{in: "refresh_token=" + fake(65, alnum, 40), secret: fake(65, alnum, 40)},
			{in: "X-Auth-Token: " + fake(66, alnum, 32), secret: fake(66, alnum, 32)},
			{in: `{"token_type": "bearer", "expires_in": 3600}`},
			{in: "max_tokens=1024 tokens=57"},
			{in: "tokenizer_config=bert-base"},
		},
		"high_entropy_value": {
			{in: "AIRFLOW__CORE__FERNET_KEY=" + fake(67, b64, 43) + "=", secret: fake(67, b64, 43)},
			{in: "session_id=" + fake(68, alnum, 32), secret: fake(68, alnum, 32)},
			{in: "Pushing xcom key=return_value map_index=-1"},
			{in: "key_path=/opt/airflow/keys/service-account.json"},
		},
	}
}

func TestRuleCasesCoverEveryBuiltinRule(t *testing.T) {
	t.Parallel()
	cases := ruleCases()
	rules := logscan.BuiltinRules()
	require.GreaterOrEqual(t, len(rules), 30)
	for _, r := range rules {
		var pos, neg int
		for _, c := range cases[r.Name] {
			if c.secret == "" {
				neg++
			} else {
				pos++
			}
		}
		require.Positive(t, pos, "rule %s has no positive case", r.Name)
		require.Positive(t, neg, "rule %s has no negative case", r.Name)
	}
	for name := range cases {
		require.True(t, logscan.IsBuiltinRule(name), "cases for unknown rule %s", name)
	}
}

func TestBuiltinRules(t *testing.T) {
	t.Parallel()
	for name, cases := range ruleCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				out := logscan.Redact(c.in)
				if c.secret == "" {
					require.Equal(t, c.in, out, "ordinary text changed")
					continue
				}
				require.NotContains(t, out, c.secret, "input %q", c.in)
				require.Contains(t, out, "[REDACTED:"+name+"]", "input %q gave %q", c.in, out)
				require.Equal(t, out, logscan.Redact(out), "redacting again changes %q", out)
			}
		})
	}
}

func TestPlaceholdersKeepKeys(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"conn password=S3cretValue1 host=x", "conn password=[REDACTED:password_pair] host=x"},
		{`{"password": "S3cret Value1", "user": "etl"}`, `{"password": "[REDACTED:password_pair]", "user": "etl"}`},
		{"postgresql://etl:hunter2secret@db.internal:5432/wh", "postgresql://etl:[REDACTED:url_password]@db.internal:5432/wh"},
		{"Authorization: Bearer abc.def.ghi123", "Authorization: Bearer [REDACTED:auth_header]"},
		{"using AKIAIOSFODNN7EXAMPLE for s3", "using [REDACTED:aws_access_key] for s3"},
		{"ab://u:p1@bc://v:q2@cd", "ab://u:[REDACTED:url_password]@bc://v:[REDACTED:url_password]@cd"},
		{"password=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJldGwifQ.c2lnbmF0dXJl", "password=[REDACTED:jwt]"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, logscan.Redact(tt.in))
	}
}

func TestOrdinaryTextUnchanged(t *testing.T) {
	t.Parallel()
	corpus := []string{
		"[2026-05-01, 02:00:03 UTC] {taskinstance.py:2905} ERROR - Task failed with exception",
		"[2026-05-01, 02:00:03 UTC] {taskinstance.py:1157} INFO - Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl.load scheduled__2026-05-01T00:00:00+00:00 [queued]>",
		"[2026-05-01, 02:00:04 UTC] {base.py:84} INFO - Using connection ID 'postgres_dwh' for task execution.",
		"[2026-05-01, 02:00:04 UTC] {base.py:84} INFO - Retrieving connection 'snowflake_default'",
		"Task exited with return code -9",
		`psycopg2.errors.UndefinedColumn: column "customer_id" does not exist`,
		`psycopg2.OperationalError: connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user "etl"`,
		"snowflake.connector.errors.DatabaseError: 250001 (08001): Failed to connect to DB: Incorrect username or password was specified.",
		"google.auth.exceptions.RefreshError: ('invalid_grant: Token has been expired or revoked.', {'error': 'invalid_grant'})",
		"WARNING - Token Expired, refreshing",
		"botocore.exceptions.ClientError: An error occurred (ExpiredToken) when calling the GetObject operation: The provided token has expired.",
		`{"token_type": "Bearer", "expires_in": 3599, "scope": "https://www.googleapis.com/auth/cloud-platform"}`,
		"SELECT id, email, password_hash, password_changed_at FROM users WHERE last_login < now() - interval '90 days'",
		"INSERT INTO audit (user_id, action) VALUES (42, 'password_reset')",
		"ALTER TABLE users ADD COLUMN password_salt text",
		`  File "/opt/airflow/dags/secrets_sync.py", line 42, in rotate_token`,
		"/home/airflow/.local/lib/python3.11/site-packages/airflow/providers/hashicorp/secrets/vault.py:201: UserWarning",
		"Uploading /tmp/tmpab12cd/part-0000.parquet to s3://warehouse-bucket/raw/orders/dt=2026-05-01/part-0000.parquet",
		"24/05/01 02:00:07 INFO TaskSetManager: Finished task 12.0 in stage 3.0 (TID 45) in 1234 ms on 10.0.3.17 (executor 2) (13/200)",
		"24/05/01 02:00:07 INFO BlockManagerInfo: Added broadcast_3_piece0 in memory on 10.0.3.17:41234 (size: 7.1 KiB, free: 4.3 GiB)",
		"02:00:10  1 of 12 START sql table model analytics.dim_customers ......... [RUN]",
		"Pushing xcom key=return_value map_index=-1",
		"KeyError: 'customer_id'",
		"Sending 'GET' to url: https://api.example.com/v1/orders?page=3&per_page=100",
		"Getting connection using `google.auth.default()` since no key file is defined for hook.",
		"Marking task as UP_FOR_RETRY. dag_id=etl, task_id=load, run_id=scheduled__2026-05-01T00:00:00+00:00, execution_date=20260501T000000",
		"airflow.exceptions.AirflowNotFoundException: The conn_id `aws_default` isn't defined",
		"Using AWS credentials from environment; session duration 3600s",
		"INFO - Checking for new secret versions in AWS Secrets Manager",
		"The tokenizer was loaded from bert-base-uncased; max_tokens=512",
		"Pod etl-load-7f9c4 has phase Running",
		"Traceback (most recent call last):",
		"jinja2.exceptions.UndefinedError: 'dict object' has no attribute 'password'",
		"passwords must be rotated every 90 days",
		"private key file not found at /opt/airflow/keys/rsa_key.p8",
		"[2026-05-01T02:00:00.000+0000] {scheduler_job_runner.py:417} INFO - 3 tasks up for execution: <TaskInstance: etl.extract manual__2026-05-01 [scheduled]>",
		"",
		"   ",
	}
	for _, s := range corpus {
		require.Equal(t, s, logscan.Redact(s))
	}
	out := logscan.RedactLines(append([]string(nil), corpus...))
	require.Equal(t, corpus, out, "redacting the corpus as lines changes it")
	require.Equal(t, strings.Join(corpus, "\n"), logscan.Redact(strings.Join(corpus, "\n")))
}
