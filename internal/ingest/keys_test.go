package ingest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

func TestHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"psycopg2 server at", `psycopg2.OperationalError: connection to server at "warehouse.internal" (10.2.3.4), port 5432 failed: Connection refused
	Is the server running on that host and accepting TCP/IP connections?`, []string{"warehouse.internal"}},
		{"psycopg2 old style", `could not connect to server: Connection refused
	Is the server running on host "db-primary.prod.example.com" (10.0.0.7) and accepting TCP/IP connections on port 5432?`, []string{"db-primary.prod.example.com"}},
		{"libpq dsn", `OperationalError: could not translate host name; dsn: host=Analytics-DB.corp port=5432 dbname=wh`, []string{"analytics-db.corp"}},
		{"sqlalchemy url redacted", `sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to postgresql://etl:[REDACTED:url_password]@db.internal:5432/wh failed`, []string{"db.internal"}},
		{"jdbc postgres", `org.postgresql.util.PSQLException: Connection to pg.internal:5432 refused. Check that the hostname and port are correct`, []string{"pg.internal"}},
		{"jdbc url", `java.sql.SQLException: Cannot create PoolableConnectionFactory (jdbc:mysql://mysql-01.internal:3306/orders)`, []string{"mysql-01.internal"}},
		{"jdbc sqlserver", `com.microsoft.sqlserver.jdbc.SQLServerException: The TCP/IP connection to the host sqlsrv.internal, port 1433 has failed.`, []string{"sqlsrv.internal"}},
		{"mysql quoted", `MySQLdb.OperationalError: (2003, "Can't connect to MySQL server on 'mysql.internal' (111)")`, []string{"mysql.internal"}},
		{"mysql quoted with port", `pymysql.err.OperationalError: (2003, "Can't connect to MySQL server on 'mysql.internal:3307' ([Errno 111] Connection refused)")`, []string{"mysql.internal"}},
		{"snowflake", `snowflake.connector.errors.OperationalError: 250003: Failed to get the response. Hanging? method: post, url: https://acme-xy123.snowflakecomputing.com:443/session/v1/login-request`, []string{"acme-xy123.snowflakecomputing.com"}},
		{"requests pool", `requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.partner.io', port=443): Max retries exceeded with url: /v2/orders`, []string{"api.partner.io"}},
		{"httpx", `httpx.ConnectError: [Errno -2] Name or service not known while connecting to https://hooks.example.net/x`, []string{"hooks.example.net"}},
		{"redis", `redis.exceptions.ConnectionError: Error 111 connecting to redis.cache.internal:6379. Connection refused.`, []string{"redis.cache.internal"}},
		{"redis at", `Could not connect to Redis at cache01.internal:6379: Connection refused`, []string{"cache01.internal"}},
		{"go dial", `dial tcp 10.20.30.40:9000: connect: connection refused`, []string{"10.20.30.40"}},
		{"kafka node", `Connection to node -1 (kafka-1.internal/10.0.0.5:9092) could not be established. Broker may not be available.`, []string{"kafka-1.internal"}},
		{"resolve", `urllib3.exceptions.NameResolutionError: Failed to resolve 'storage.googleapis.com' ([Errno -3] Temporary failure)`, []string{"storage.googleapis.com"}},
		{"node enotfound", `Error: getaddrinfo ENOTFOUND api.stripe.com`, []string{"api.stripe.com"}},
		{"loopback keeps port", `connection to server at "localhost" (127.0.0.1), port 6432 failed`, []string{"localhost:6432"}},
		{"s3 endpoint", `botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "https://s3.eu-west-1.amazonaws.com/bucket"`, []string{"s3.eu-west-1.amazonaws.com"}},
		{"mongo", `pymongo.errors.ServerSelectionTimeoutError: mongo-0.db.svc:27017: [Errno 111] Connection refused`, []string{"mongo-0.db.svc"}},
		{"quoted table is no host", `snowflake.connector.errors.ProgrammingError: 002003 (42S02): SQL compilation error:
Object 'ANALYTICS.PUBLIC.ORDERS' does not exist or not authorized.`, nil},
		{"relation is no host", `psycopg2.errors.UndefinedTable: relation "public.orders" does not exist`, nil},
		{"traceback frames are no hosts", "Traceback (most recent call last):\n  File \"/opt/airflow/dags/etl.py\", line 42, in load\nKeyError: 'customer_id'\n at com.acme.Job.run(Job.java:123)", nil},
		{"times are no hosts", `Task timed out at 12:30:45 after 3600 seconds`, nil},
		{"empty", ``, nil},
		{
			"many hosts capped",
			`connect to a.example.com failed; connect to b.example.com failed; connect to c.example.com failed; connect to d.example.com failed`,
			[]string{"a.example.com", "b.example.com", "c.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ingest.Hosts(tt.text))
		})
	}
}

func FuzzHosts(f *testing.F) {
	f.Add(`connection to server at "warehouse.internal" (10.2.3.4), port 5432 failed`)
	f.Add(`HTTPSConnectionPool(host='api.partner.io', port=443)`)
	f.Fuzz(func(t *testing.T, s string) {
		hosts := ingest.Hosts(s)
		require.LessOrEqual(t, len(hosts), 3)
		for _, h := range hosts {
			require.NotEmpty(t, h)
		}
	})
}

func TestCoalesceKeysDataset(t *testing.T) {
	t.Parallel()
	ev := func(datasets ...string) *incident.FailureEvent {
		return &incident.FailureEvent{
			Key:      incident.Key{Instance: "main", DagID: "orders_etl", RunID: "r1", TaskID: "load", TryNumber: 1},
			MapIndex: -1, Source: incident.SourceOpenLineage, Datasets: datasets,
		}
	}
	tests := []struct {
		name  string
		ev    *incident.FailureEvent
		kinds []string
		want  []string
	}{
		{"no datasets", ev(), []string{config.CoalesceKeyDataset}, nil},
		{
			"each dataset in order", ev("postgres://wh:5432/analytics.public.orders", "s3://lake/raw/orders"),
			[]string{config.CoalesceKeyDataset},
			[]string{"dataset:postgres://wh:5432/analytics.public.orders", "dataset:s3://lake/raw/orders"},
		},
		{
			"after the run key", ev("s3://lake/raw/orders"), config.CoalesceKeys,
			[]string{"run:main|orders_etl|r1", "dataset:s3://lake/raw/orders"},
		},
		{"kind disabled", ev("s3://lake/raw/orders"), []string{config.CoalesceKeyRun}, []string{"run:main|orders_etl|r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, _ := ingest.CoalesceKeys(tt.ev, tt.kinds)
			require.Equal(t, tt.want, keys)
		})
	}
}
