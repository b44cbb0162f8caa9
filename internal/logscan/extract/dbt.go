package extract

import (
	"regexp"
	"strings"
)

var (
	// "Database Error in model customers (models/customers.sql)"
	dbtErrRe = regexp.MustCompile(`^(Database Error|Compilation Error|Runtime Error|Dependency Error|Parsing Error|Validation Error|Env Var Error|Unhandled error while executing) in (model|test|snapshot|seed|macro|operation|source|analysis|sql operation|unit_test|exposure|metric|semantic_model)\s+([^\s(]+)(?:\s+\(([^)]+)\))?`)
	// "Failure in test unique_orders_id (models/schema.yml)"
	dbtTestRe     = regexp.MustCompile(`^(Failure|Warning) in test\s+([^\s(]+)(?:\s+\(([^)]+)\))?`)
	dbtGotRe      = regexp.MustCompile(`^Got (\d+) results?, configured to (fail|warn) if (.+)`)
	dbtGotLooseRe = regexp.MustCompile(`\bGot (\d+) results?, configured to (fail|warn) if (.+)`)
	// "Encountered an error:" / "Encountered an error while running operation: Database Error"
	dbtEncounteredRe = regexp.MustCompile(`^Encountered an error(?: while [\w ]+)?:\s*(.*)$`)
	dbtCategoryRe    = regexp.MustCompile(`^(Database Error|Compilation Error|Runtime Error|Dependency Error|Parsing Error|Internal Error)$`)
	dbtCompiledRe    = regexp.MustCompile(`^compiled (?:SQL|Code|code) at (\S+)`)
	dbtSummaryRe     = regexp.MustCompile(`Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)(?: NO-OP=\d+)?(?: REUSED=\d+)? TOTAL=(\d+)`)
	dbtCompletedRe   = regexp.MustCompile(`^Completed with (\d+) errors? and (\d+) warnings?`)
)

// dbtErrors finds dbt's error reports and attaches the run summary.
func (s *scan) dbtErrors() {
	var found []*cand
	var summary []string
	summaryLine := -1
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := strings.TrimSpace(s.text(i))
		if !containsAny(t, "Error", "in test", "Encountered an error", "Got ", "compiled ", "Done. PASS") {
			continue
		}
		if m := dbtSummaryRe.FindStringSubmatch(t); m != nil {
			summary, summaryLine = m, i
			continue
		}
		var c *cand
		switch {
		case dbtErrRe.MatchString(t):
			m := dbtErrRe.FindStringSubmatch(t)
			c = &cand{Block: Block{Kind: KindDbt, ExceptionType: m[1], Start: i, Confidence: 0.85}}
			c.detail("node_type", m[2])
			c.detail(dbtNodeKey(m[2]), m[3])
			c.detail("path", m[4])
			if m[1] == "Compilation Error" || m[1] == "Parsing Error" {
				c.Confidence = 0.88 // the project itself is broken: nothing else ran
			}
		case dbtTestRe.MatchString(t):
			m := dbtTestRe.FindStringSubmatch(t)
			c = &cand{Block: Block{Kind: KindDbt, ExceptionType: "Test " + m[1], Start: i, Confidence: 0.85}}
			c.detail("node_type", "test")
			c.detail("test", m[2])
			c.detail("path", m[3])
			if m[1] == "Warning" {
				c.Confidence = 0.3
			}
		case dbtEncounteredRe.MatchString(t):
			m := dbtEncounteredRe.FindStringSubmatch(t)
			category, header := strings.TrimSpace(m[1]), i
			if category == "" {
				if k := s.nextNonBlank(i+1, 1); k >= 0 && dbtCategoryRe.MatchString(strings.TrimSpace(s.text(k))) {
					category, header = strings.TrimSpace(s.text(k)), k
				}
			}
			if k := s.nextNonBlank(header+1, 0); k >= 0 && dbtErrRe.MatchString(strings.TrimSpace(s.text(k))) {
				continue // the specific error below says more
			}
			c = &cand{Block: Block{Kind: KindDbt, ExceptionType: category, Start: i, Confidence: 0.8}}
			c.Message, c.End = s.dbtMessage(header, header+1)
		case dbtGotLooseRe.MatchString(t):
			// A test result whose "Failure in test" header was cut off.
			m := dbtGotLooseRe.FindStringSubmatch(t)
			c = &cand{Block: Block{Kind: KindDbt, ExceptionType: "Test Failure", Message: t, Start: i, End: i + 1, Confidence: 0.75}}
			if m[2] == "warn" {
				c.ExceptionType, c.Confidence = "Test Warning", 0.3
			}
		case dbtCompiledRe.MatchString(t):
			// An error whose header was cut off: the message is above.
			k := i
			for k > 0 && i-k < 5 && s.free(k-1) && !isBlank(s.text(k-1)) {
				k--
			}
			if k == i {
				continue
			}
			var lines []string
			for j := k; j <= i; j++ {
				lines = append(lines, strings.TrimSpace(s.text(j)))
			}
			c = &cand{Block: Block{Kind: KindDbt, Message: strings.Join(lines, "\n"), Start: k, End: i + 1, Confidence: 0.6}}
		default:
			continue
		}
		if c.End == 0 {
			c.Message, c.End = s.dbtMessage(i, i+1)
		}
		if m := dbtGotRe.FindStringSubmatch(c.Message); m != nil {
			c.detail("failures", m[1])
			c.detail("severity", m[2])
		}
		for _, l := range strings.Split(c.Message, "\n") {
			if m := dbtGotRe.FindStringSubmatch(l); m != nil {
				c.detail("failures", m[1])
				c.detail("severity", m[2])
			}
		}
		dbtAdapterDetails(c)
		s.logContext(c, i)
		s.add(c)
		found = append(found, c)
		i = c.End - 1
	}
	if summary == nil {
		return
	}
	for _, c := range found {
		dbtSummary(c, summary)
	}
	if len(found) == 0 && summary[3] != "0" {
		c := &cand{Block: Block{
			Kind: KindDbt, ExceptionType: "dbt run failed", Message: strings.TrimSpace(s.text(summaryLine)),
			Start: summaryLine, End: summaryLine + 1, Confidence: 0.45,
		}}
		dbtSummary(c, summary)
		s.add(c)
	}
}

// dbtMessage collects the indented lines under a dbt error header, up to a
// blank line, the next header or "compiled SQL at" (whose path is kept).
func (s *scan) dbtMessage(header, from int) (string, int) {
	base := indent(s.text(header))
	var lines []string
	j := from
	for ; j < s.n() && j-from < 20 && s.free(j); j++ {
		t := s.text(j)
		tt := strings.TrimSpace(t)
		if tt == "" {
			if len(lines) == 0 && j == from {
				continue
			}
			// dbt leaves a blank line before "compiled Code at".
			if k := s.nextNonBlank(j, 1); k > j && s.free(k) && dbtCompiledRe.MatchString(strings.TrimSpace(s.text(k))) {
				j = k - 1
				continue
			}
			break
		}
		if m := dbtCompiledRe.FindStringSubmatch(tt); m != nil {
			lines = append(lines, tt)
			j++
			break
		}
		if dbtErrRe.MatchString(tt) || dbtTestRe.MatchString(tt) || dbtSummaryRe.MatchString(tt) || dbtCompletedRe.MatchString(tt) {
			break
		}
		continues := len(lines) == 0 || strings.HasSuffix(lines[len(lines)-1], ":") || isSQLContinuation(t) || isCaretLine(t)
		if !continues && (s.lines[j].clock && indent(t) <= base || indent(t) < base) {
			break // a new dbt event line, or text outdented from the error
		}
		lines = append(lines, tt)
	}
	msg := strings.Join(lines, "\n")
	return msg, max(j, header+1)
}

func dbtNodeKey(nodeType string) string {
	switch nodeType {
	case "test", "unit_test":
		return "test"
	case "snapshot", "seed", "source", "macro", "operation", "analysis":
		return nodeType
	}
	return "model"
}

// dbtAdapterDetails pulls the warehouse's own codes out of the message.
func dbtAdapterDetails(c *cand) {
	msg := c.Message
	if m := dbtCompiledRe.FindStringSubmatch(lastLine(msg)); m != nil {
		c.detail("compiled_path", m[1])
		msg = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(msg, lastLine(msg))), "\n")
		c.Message = msg
	}
	switch {
	case snowflakeRe.MatchString(msg):
		snowflakeDetails(c, msg)
		c.detail("adapter", "snowflake")
	case isBigQuery("", msg) || bqHintRe.MatchString(msg):
		bigqueryDetails(c, msg)
	case isPostgresMessage(msg) || sqlstateRe.MatchString(msg):
		postgresDetails(c, msg, nil)
	}
}

func dbtSummary(c *cand, m []string) {
	c.detail("pass", m[1])
	c.detail("warn", m[2])
	c.detail("error", m[3])
	c.detail("skip", m[4])
	c.detail("total", m[5])
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
