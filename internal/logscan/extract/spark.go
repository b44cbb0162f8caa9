package extract

import (
	"regexp"
	"strings"
)

var (
	sparkStageRe = regexp.MustCompile(`Job aborted due to stage failure: (?:Task (\S+) in stage (\S+) failed (\d+) times?)?`)
	// "most recent failure: Lost task 0.3 in stage 1.0 (TID 7, host, executor 2): cause"
	// and Spark 3's "(TID 7) (host executor 2): cause".
	sparkRecentRe   = regexp.MustCompile(`most recent failure: Lost task (\S+) in stage (\S+) \(TID (\d+)[^)]*\)(?: \(([^)]*)\))?: (.*)`)
	sparkExecutorRe = regexp.MustCompile(`\bexecutor (\w+)\b`)
	// "Lost executor 1 on 10.0.0.5: Container killed by YARN …"
	sparkLostExecRe = regexp.MustCompile(`Lost executor (\w+) on ([^:\s]+):?\s*(.*)`)
	sparkExitRe     = regexp.MustCompile(`(?:exited with exit code|[Ee]xit status:|exit code:?) (-?\d+)`)
	sparkLostFailRe = regexp.MustCompile(`ExecutorLostFailure \(executor (\w+) exited ([^)]*)\)(?: Reason: (.*))?`)
	sparkLostTaskRe = regexp.MustCompile(`Lost task (\S+) in stage (\S+) \(TID (\d+)[^)]*\)(?: \([^)]*\))?: (.*)`)
	sparkYarnRe     = regexp.MustCompile(`Container killed by YARN for exceeding (?:physical )?memory limits[^\n]*|Container from a bad node[^\n]*|Container killed on request\. Exit code is \d+`)
	sparkAppRe      = regexp.MustCompile(`Final app status: FAILED, exitCode: (\d+)(?:, \(reason: (.*))?`)
	sparkClassRe    = regexp.MustCompile(`\[([A-Z][A-Z0-9]*_[A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\]\s+(.*)`)
	sparkSQLStateRe = regexp.MustCompile(`SQLSTATE: ([0-9A-Z]{5})`)
)

func isSparkError(types, msg string) bool {
	return strings.Contains(types, "org.apache.spark") || strings.Contains(types, "pyspark") ||
		strings.Contains(msg, "Job aborted due to stage failure") ||
		sparkClassRe.MatchString(msg) && sparkSQLStateRe.MatchString(msg)
}

// sparkDetails parses a Spark error message; for a stage failure it adds the
// executor-side cause to the chain and makes it the root when no "Caused
// by:" said more.
func (s *scan) sparkDetails(c *cand, msg string) {
	if m := sparkClassRe.FindStringSubmatch(msg); m != nil {
		c.detail("error_class", m[1])
	}
	if m := sparkSQLStateRe.FindStringSubmatch(msg); m != nil {
		c.detail("sqlstate", m[1])
	}
	if m := sparkStageRe.FindStringSubmatch(msg); m != nil {
		c.detail("task", m[1])
		c.detail("stage", m[2])
		c.detail("attempts", m[3])
		c.Confidence = max(c.Confidence, 0.85)
	}
	m := sparkRecentRe.FindStringSubmatch(msg)
	if m == nil {
		sparkCauseDetails(c, msg)
		return
	}
	if em := sparkExecutorRe.FindStringSubmatch(m[0][:len(m[0])-len(m[5])]); em != nil {
		c.detail("executor", em[1])
	}
	cause := strings.TrimSpace(m[5])
	sparkCauseDetails(c, cause)
	var typ, cmsg string
	if lm := sparkLostFailRe.FindStringSubmatch(cause); lm != nil {
		typ, cmsg = "ExecutorLostFailure", strings.TrimSpace(lm[3])
		if cmsg == "" {
			cmsg = "executor " + lm[1] + " exited " + lm[2]
		}
	} else if nm := javaNestedRe.FindStringSubmatch(firstLine(cause)); nm != nil {
		typ, cmsg = nm[1], strings.TrimSpace(nm[2])
	} else if i := strings.Index(cause, ": "); i > 0 && !strings.Contains(cause[:i], " ") {
		typ, cmsg = cause[:i], cause[i+2:]
	} else {
		typ, cmsg = "TaskFailure", cause
	}
	// A "Caused by:" already named the root: keep it.
	hasCausedBy := false
	for _, ch := range c.Chain {
		if ch.Relation == "caused_by" {
			hasCausedBy = true
		}
	}
	if hasCausedBy {
		return
	}
	if len(c.Chain) == 0 {
		c.Chain = []Cause{{ExceptionType: c.ExceptionType, Message: firstLine(c.Message), Line: c.Start}}
	}
	c.Chain = append(c.Chain, Cause{ExceptionType: typ, Message: firstLine(cmsg), Relation: "wrapped", Line: c.Chain[len(c.Chain)-1].Line})
	c.ExceptionType, c.Message = typ, cmsg
}

// sparkCauseDetails records what a lost executor or task says about why.
func sparkCauseDetails(c *cand, text string) {
	if m := sparkLostFailRe.FindStringSubmatch(text); m != nil {
		c.detail("executor", m[1])
		c.detail("reason", strings.TrimSpace(m[3]))
	}
	if m := sparkYarnRe.FindString(text); m != "" {
		c.detail("reason", strings.TrimSpace(m))
	}
	if m := sparkExitRe.FindStringSubmatch(text); m != nil {
		exitDetails(c, m[1])
	}
}

// sparkLines finds Spark driver lines that report a failure outside a stack
// trace: stage failures, lost executors and tasks, the application's final
// status, error classes.
func (s *scan) sparkLines() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := strings.TrimSpace(s.text(i))
		if !containsAny(t, "stage failure", "Lost executor", "ExecutorLostFailure", "Lost task", "Container ",
			"Final app status", "_") {
			continue
		}
		var c *cand
		switch {
		case strings.Contains(t, "Job aborted due to stage failure"):
			c = &cand{Block: Block{Kind: KindSpark, ExceptionType: "SparkException", Message: t, Start: i, End: i + 1, Confidence: 0.8}}
			s.sparkDetails(c, t)
		case sparkLostExecRe.MatchString(t):
			m := sparkLostExecRe.FindStringSubmatch(t)
			c = &cand{Block: Block{Kind: KindSpark, ExceptionType: "ExecutorLost", Message: t, Start: i, Confidence: 0.6}}
			c.detail("executor", m[1])
			c.detail("host", m[2])
			end := i + 1
			ctx := m[3]
			// "The executor with id 1 exited with exit code 137." and the
			// container statuses follow on their own lines.
			for end < s.n() && end-i < 30 && s.free(end) && !s.lines[end].record {
				ctx += "\n" + s.text(end)
				end++
			}
			c.End = end
			if r := strings.TrimSpace(m[3]); r != "" {
				c.detail("reason", r)
			}
			sparkCauseDetails(c, ctx)
			kubeMessageDetails(c, ctx)
			if c.Details["exit_code"] == "137" || c.has("reason") && strings.Contains(c.Details["reason"], "memory") {
				c.Confidence = 0.75
			}
		case sparkLostFailRe.MatchString(t) || sparkLostTaskRe.MatchString(t) && strings.Contains(t, "Exception"):
			c = &cand{Block: Block{Kind: KindSpark, ExceptionType: "TaskFailure", Message: t, Start: i, End: i + 1, Confidence: 0.6}}
			if m := sparkLostTaskRe.FindStringSubmatch(t); m != nil {
				c.detail("task", m[1])
				c.detail("stage", m[2])
				c.Message = m[4]
			}
			sparkCauseDetails(c, t)
			if c.has("reason") {
				c.ExceptionType = "ExecutorLostFailure"
			}
		case sparkYarnRe.MatchString(t):
			c = &cand{Block: Block{Kind: KindSpark, ExceptionType: "ContainerKilled", Message: t, Start: i, End: i + 1, Confidence: 0.7}}
			sparkCauseDetails(c, t)
		case sparkAppRe.MatchString(t):
			m := sparkAppRe.FindStringSubmatch(t)
			c = &cand{Block: Block{Kind: KindSpark, ExceptionType: "ApplicationFailed", Message: t, Start: i, End: i + 1, Confidence: 0.5}}
			c.detail("exit_code", m[1])
			if typ, msg := javaException(m[2]); typ != "" {
				c.ExceptionType, c.Message = typ, msg
				c.Confidence = 0.75
			}
		case sparkClassRe.MatchString(t) && (sparkSQLStateRe.MatchString(t) || s.sqlstateWithin(i, 4)):
			m := sparkClassRe.FindStringSubmatch(t)
			c = &cand{Block: Block{Kind: KindSpark, ExceptionType: m[1], Start: i, Confidence: 0.8}}
			end := i + 1
			msg := []string{m[2]}
			for end < s.n() && end-i < 6 && s.free(end) && !isBlank(s.text(end)) && !s.lines[end].record {
				msg = append(msg, strings.TrimSpace(s.text(end)))
				end++
			}
			c.End, c.Message = end, strings.Join(msg, "\n")
			c.detail("error_class", m[1])
			if sm := sparkSQLStateRe.FindStringSubmatch(c.Message); sm != nil {
				c.detail("sqlstate", sm[1])
			}
		default:
			continue
		}
		s.logContext(c, i)
		s.add(c)
		i = c.End - 1
	}
}

func (s *scan) sqlstateWithin(i, n int) bool {
	for k := i; k < s.n() && k-i < n; k++ {
		if sparkSQLStateRe.MatchString(s.text(k)) {
			return true
		}
	}
	return false
}
