package extract

import (
	"regexp"
	"strings"
)

// PostgreSQL (and Redshift, which speaks its protocol).

var (
	// Explicit SQLSTATEs: "SQLSTATE: 42P01", "SQLSTATE[23505]", "(SQLSTATE
	// 42P01)", "SQL state: 57014", "Database error 22P02:", `"errorCode": "57014"`.
	// psql's verbose form puts it first: "ERROR:  42P01: relation … does not exist".
	sqlstateRe = regexp.MustCompile(`(?:SQLSTATE(?:\s*[:=]\s*|\[|\s+)|SQL state:\s*|Database error |"errorCode":\s*"|(?:ERROR|FATAL|PANIC):\s{1,2})([0-9A-Z]{5})\b`)
	// Server-format lines: "ERROR:  relation …", "psql:load.sql:12: ERROR:  …", "FATAL:  sorry, too many clients".
	pgSeverityRe = regexp.MustCompile(`(?:^|: |\s)(ERROR|FATAL|PANIC):\s{1,2}(\S.*)`)
	// Driver exceptions named on a line: psycopg2.errors.UndefinedTable: …, PG::UniqueViolation: …, pq: …
	pgDriverRe     = regexp.MustCompile(`((?:psycopg2?|asyncpg|pg8000)(?:\.\w+)*\.[A-Z]\w*|PG::[A-Z]\w*|org\.postgresql\.util\.PSQLException)(?:\):?|:)\s*(.*)|\bpq: (.+)`)
	pgDetailRe     = regexp.MustCompile(`(?m)^\s*(DETAIL|HINT|CONTEXT|Detail|Hint|Where|Position):\s+(.*)$`)
	pgLineRe       = regexp.MustCompile(`(?m)^\s*LINE (\d+):`)
	leadingStateRe = regexp.MustCompile(`^([0-9A-Z]{5}):\s+`)
)

// pgPhrases are PostgreSQL server messages specific enough to name it.
var pgPhrases = []string{
	"server closed the connection unexpectedly", "could not connect to server",
	"terminating connection due to", "violates unique constraint", "violates not-null constraint",
	"violates foreign key constraint", "violates check constraint", "duplicate key value violates",
	"value too long for type character varying", "invalid input syntax for", "canceling statement due to",
	"deadlock detected", "could not serialize access", "current transaction is aborted",
	"too many clients already", "remaining connection slots are reserved", "password authentication failed for user",
	"syntax error at or near", "the database system is starting up", "the database system is shutting down",
	"the database system is in recovery mode", "could not extend file", "out of shared memory",
	"SSL SYSCALL error", "no pg_hba.conf entry", "function return row and target table row do not match",
}

var pgObjectMissingRe = regexp.MustCompile(`\b(?:relation|column|schema|database|role|type|function) "?[\w.$"]+"?(?:\([^)]*\))? does not exist`)

func isPostgresType(types string) bool {
	return strings.Contains(types, "psycopg") || strings.Contains(types, "asyncpg") ||
		strings.Contains(types, "PG::") || strings.Contains(types, "PSQLException") ||
		strings.Contains(types, "pg8000") || strings.Contains(types, "postgres")
}

func isPostgresMessage(msg string) bool {
	if strings.Contains(msg, "(psycopg") || strings.Contains(msg, "PG::") {
		return true
	}
	for _, p := range pgPhrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return strings.Contains(msg, "does not exist") && pgObjectMissingRe.MatchString(msg) &&
		!strings.Contains(msg, "not authorized") && !snowflakeRe.MatchString(msg)
}

// pgClassStates maps psycopg (and Ruby PG, asyncpg) exception class names to
// their SQLSTATE; the names are PostgreSQL's condition names in CamelCase.
var pgClassStates = map[string]string{
	"ConnectionException": "08000", "ConnectionDoesNotExist": "08003", "ConnectionFailure": "08006",
	"SqlclientUnableToEstablishSqlconnection": "08001", "FeatureNotSupported": "0A000",
	"CardinalityViolation": "21000", "StringDataRightTruncation": "22001", "NumericValueOutOfRange": "22003",
	"NullValueNotAllowed": "22004", "InvalidDatetimeFormat": "22007", "DatetimeFieldOverflow": "22008",
	"DivisionByZero": "22012", "CharacterNotInRepertoire": "22021", "InvalidParameterValue": "22023",
	"InvalidTextRepresentation": "22P02", "UntranslatableCharacter": "22P05",
	"IntegrityConstraintViolation": "23000", "NotNullViolation": "23502", "ForeignKeyViolation": "23503",
	"UniqueViolation": "23505", "CheckViolation": "23514", "ExclusionViolation": "23P01",
	"ReadOnlySqlTransaction": "25006", "InFailedSqlTransaction": "25P02",
	"InvalidAuthorizationSpecification": "28000", "InvalidPassword": "28P01",
	"InvalidCatalogName": "3D000", "InvalidSchemaName": "3F000", "SerializationFailure": "40001",
	"DeadlockDetected": "40P01", "SyntaxError": "42601", "InsufficientPrivilege": "42501",
	"UndefinedColumn": "42703", "UndefinedFunction": "42883", "UndefinedTable": "42P01",
	"UndefinedObject": "42704", "DuplicateTable": "42P07", "DuplicateColumn": "42701",
	"DuplicateObject": "42710", "AmbiguousColumn": "42702", "DatatypeMismatch": "42804",
	"CannotCoerce": "42846", "InsufficientResources": "53000", "DiskFull": "53100", "OutOfMemory": "53200",
	"TooManyConnections": "53300", "ProgramLimitExceeded": "54000", "ObjectInUse": "55006",
	"LockNotAvailable": "55P03", "QueryCanceled": "57014", "QueryCanceledError": "57014",
	"AdminShutdown": "57P01", "CrashShutdown": "57P02", "CannotConnectNow": "57P03", "IoError": "58030",
	"DataCorrupted": "XX001",
}

// postgresDetails fills SQLSTATE, DETAIL, HINT, CONTEXT and LINE from an
// error message and its exception class names.
func postgresDetails(c *cand, msg string, types []string) {
	c.detail("sqlstate", findSQLState(msg))
	if !c.has("sqlstate") {
		for _, t := range types {
			name := strings.TrimSuffix(lastSegment(t), "Error")
			if st, ok := pgClassStates[name]; ok {
				c.detail("sqlstate", st)
				break
			}
			if st, ok := pgClassStates[lastSegment(t)]; ok {
				c.detail("sqlstate", st)
				break
			}
		}
	}
	for _, m := range pgDetailRe.FindAllStringSubmatch(msg, 8) {
		key := strings.ToLower(m[1])
		if key == "where" {
			key = "context"
		}
		if !c.has(key) {
			c.detail(key, strings.TrimSpace(m[2]))
		}
	}
	if m := pgLineRe.FindStringSubmatch(msg); m != nil {
		c.detail("line", m[1])
	}
}

// findSQLState returns the first well-formed explicit SQLSTATE in text.
func findSQLState(text string) string {
	for _, m := range sqlstateRe.FindAllStringSubmatch(text, 8) {
		if validSQLState(m[1]) {
			return m[1]
		}
	}
	return ""
}

// validSQLState checks the shape of a SQLSTATE: five digits or capitals
// whose class (first two) has a digit.
func validSQLState(s string) bool {
	return len(s) == 5 && (s[0] >= '0' && s[0] <= '9' || s[1] >= '0' && s[1] <= '9')
}

// postgresLines finds PostgreSQL errors outside tracebacks: server-format
// "ERROR:  …" lines, driver exceptions named on one line, well-known server
// messages; with the DETAIL/HINT/LINE lines that follow.
func (s *scan) postgresLines() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := s.text(i)
		if !containsAny(t, "ERROR:", "FATAL:", "PANIC:", "psycopg", "PG::", "pq: ", "asyncpg", "pg8000", "PSQLException") &&
			!isPostgresMessage(t) {
			continue
		}
		typ, msg, conf := "", "", 0.0
		if m := pgDriverRe.FindStringSubmatch(t); m != nil {
			if m[1] != "" {
				typ, msg, conf = m[1], m[2], 0.75
			} else {
				typ, msg, conf = "pq", m[3], 0.65
			}
			if inner := pgSeverityRe.FindStringSubmatch(msg); inner != nil {
				msg = inner[2]
			}
		} else if m := pgSeverityRe.FindStringSubmatch(t); m != nil && (strings.Contains(t, m[1]+":  ") ||
			isPostgresMessage(m[2]) || s.followedBySQLContext(i)) {
			typ, msg, conf = m[1], m[2], 0.7
		} else if isPostgresMessage(t) {
			msg, conf = strings.TrimSpace(t), 0.55
			if et, em, ok := genericException(msg); ok {
				typ, msg = et, em
			}
		} else {
			continue
		}
		c := &cand{Block: Block{Kind: KindPostgres, ExceptionType: typ, Start: i, Confidence: conf}}
		if m := leadingStateRe.FindStringSubmatch(msg); m != nil && validSQLState(m[1]) {
			c.detail("sqlstate", m[1]) // psql \set VERBOSITY verbose
			msg = msg[len(m[0]):]
		}
		end := i + 1
		var ctx []string
		for end < s.n() && end-i < 20 && s.free(end) {
			nt := s.text(end)
			indented := indent(nt) > indent(t) && !isBlank(nt)
			if !isSQLContinuation(nt) && !isCaretLine(nt) && !indented {
				break
			}
			ctx = append(ctx, strings.TrimSpace(nt))
			end++
		}
		c.End = end
		full := strings.Join(append([]string{msg}, ctx...), "\n")
		c.Message = strings.TrimSpace(msg)
		if len(ctx) > 0 && !strings.HasPrefix(ctx[0], "DETAIL") && !strings.HasPrefix(ctx[0], "HINT") &&
			!strings.HasPrefix(ctx[0], "LINE") && !isCaretLine(ctx[0]) {
			c.Message = strings.TrimSpace(msg + "\n" + ctx[0]) // a wrapped message
		}
		postgresDetails(c, full, []string{typ})
		if severity := typ; severity == "FATAL" || severity == "PANIC" || severity == "ERROR" {
			c.detail("severity", severity)
			c.ExceptionType = ""
		}
		s.logContext(c, i)
		s.add(c)
		i = end - 1
	}
}

func (s *scan) followedBySQLContext(i int) bool {
	return i+1 < s.n() && isSQLContinuation(s.text(i+1))
}

// Snowflake.

var (
	// "002003 (42S02): SQL compilation error:", with the query id after it
	// when the connector knows it.
	snowflakeRe = regexp.MustCompile(`\b(\d{6}) \(([0-9A-Z]{5})\):\s*(?:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):\s*)?(.*)`)
	sfTypeRe    = regexp.MustCompile(`((?:snowflake\.connector\.errors|net\.snowflake\.client\.jdbc)\.[A-Z]\w*)`)
)

func snowflakeDetails(c *cand, msg string) {
	if m := snowflakeRe.FindStringSubmatch(msg); m != nil {
		c.detail("error_code", m[1])
		c.detail("sqlstate", m[2])
		c.detail("query_id", m[3])
	}
}

// snowflakeLines finds Snowflake errors by their "NNNNNN (SSSSS):" code,
// joining the message lines that follow a line ending in ':'.
func (s *scan) snowflakeLines() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := s.text(i)
		if !strings.Contains(t, "): ") {
			continue
		}
		m := snowflakeRe.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		c := &cand{Block: Block{Kind: KindSnowflake, Start: i, Confidence: 0.8}}
		if tm := sfTypeRe.FindStringSubmatch(t); tm != nil {
			c.ExceptionType = tm[1]
		}
		lines := []string{strings.TrimSpace(m[4])}
		end := i + 1
		for end < s.n() && end-i < 8 && s.free(end) {
			nt := strings.TrimSpace(s.text(end))
			prev := lines[len(lines)-1]
			continues := strings.HasSuffix(prev, ":") || indent(s.text(end)) > indent(t) && end-i < 4
			if nt == "" || !continues {
				break
			}
			lines = append(lines, nt)
			end++
		}
		c.End = end
		c.Message = strings.Join(lines, "\n")
		snowflakeDetails(c, t)
		s.logContext(c, i)
		s.add(c)
		i = end - 1
	}
}

// BigQuery.

var (
	bqStatusRe   = regexp.MustCompile(`^(?:Reason: )?([1-5]\d\d) (?:(GET|POST|PUT|PATCH|DELETE) (\S+?):\s+)?(.*)`)
	bqReasonRe   = regexp.MustCompile(`['"]reason['"]:\s*['"](\w+)['"]|errorResult\.reason\W+(\w+)|\breason: (\w+)`)
	bqLocationRe = regexp.MustCompile(`(?:Location: |location=|'location': ')([\w-]+)`)
	bqJobRe      = regexp.MustCompile(`(?:Job ID: |job ID: |/jobs/|/queries/|'jobId': ')([\w:.\-]+)`)
	bqHintRe     = regexp.MustCompile(`(?i)bigquery|Not found: (?:Table|Dataset|Job)\b|Access Denied: (?:Table|Dataset|Project)\b|Resources exceeded during query execution|Exceeded rate limits|Quota exceeded: Your (?:project|table)|was not found in location|exceeded quota for table update|errorResult|Unrecognized name: |(?:JSON|CSV|Parquet|Avro) table encountered too many errors|Error while reading data, error message|Syntax error: Expected|billing tier|resourcesExceeded|Query exceeded resource limits`)
	bqLineRe     = regexp.MustCompile(`(google\.(?:api_core|cloud)\.exceptions\.[A-Z]\w*|com\.google\.cloud\.bigquery\.BigQueryException):\s*(.*)|BigQuery job failed\. Final error was: (.*)|Failed to execute task: Reason: (.*)|\b([45]\d\d (?:GET|POST|PUT|PATCH|DELETE) https://(?:www\.)?bigquery\.googleapis\.com\S*:.*)`)
)

func isBigQuery(types, msg string) bool {
	return strings.Contains(types, "bigquery") || strings.Contains(types, "BigQuery") ||
		(strings.Contains(types, "google.api_core") || strings.Contains(types, "google.cloud")) && bqHintRe.MatchString(msg) ||
		bqHintRe.MatchString(msg) && strings.Contains(strings.ToLower(msg), "bigquery")
}

func bigqueryDetails(c *cand, msg string) {
	if m := bqStatusRe.FindStringSubmatch(strings.TrimSpace(msg)); m != nil {
		c.detail("status", m[1])
		c.detail("method", m[2])
	}
	if m := bqReasonRe.FindStringSubmatch(msg); m != nil {
		c.detail("reason", m[1]+m[2]+m[3])
	}
	if m := bqLocationRe.FindStringSubmatch(msg); m != nil {
		c.detail("location", m[1])
	}
	if m := bqJobRe.FindStringSubmatch(msg); m != nil {
		c.detail("job_id", m[1])
	}
}

// bigqueryLines finds BigQuery API errors outside tracebacks.
func (s *scan) bigqueryLines() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := s.text(i)
		lower := strings.ToLower(t)
		if !strings.Contains(lower, "bigquery") && !containsAny(t, "google.", "Reason: ", "not found in location") {
			continue
		}
		typ, msg, conf := "", "", 0.75
		if m := bqLineRe.FindStringSubmatch(t); m != nil {
			typ, msg = m[1], m[2]+m[3]+m[4]+m[5]
			if typ != "" && !isBigQuery(typ, msg) {
				continue
			}
		} else if strings.Contains(t, "was not found in location") || strings.Contains(lower, "bigquery") &&
			!quietLevel(s.lines[i].level) && containsAny(lower, "exceeded", "not found", "denied", "error", "invalid") {
			// An error body or message that names BigQuery without an exception.
			msg, conf = strings.TrimSpace(t), 0.55
		} else {
			continue
		}
		c := &cand{Block: Block{Kind: KindBigQuery, ExceptionType: typ, Message: strings.TrimSpace(msg), Start: i, End: i + 1, Confidence: conf}}
		// The reason often sits on the following lines of a JSON error body.
		ctx := msg
		for k := i + 1; k < s.n() && k-i <= 12 && s.free(k) && len(ctx) < 4096; k++ {
			ctx += "\n" + s.text(k)
		}
		bigqueryDetails(c, ctx)
		if !c.has("status") {
			if sm := bqStatusRe.FindStringSubmatch(strings.TrimSpace(msg)); sm != nil {
				c.detail("status", sm[1])
			}
		}
		s.logContext(c, i)
		s.add(c)
	}
}
