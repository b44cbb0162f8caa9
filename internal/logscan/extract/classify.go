package extract

import (
	"regexp"
	"strconv"
	"strings"
)

// classify looks at a traceback's or stack trace's exceptions and gives the
// block the kind of the system that raised the error, with its details, or
// marks it as a wrapper that only says something failed.
func (s *scan) classify(c *cand) {
	format := c.Kind
	types := append([]string{c.ExceptionType}, c.typesSeen...)
	for _, cause := range c.Chain {
		types = append(types, cause.ExceptionType)
	}
	all := strings.Join(types, " ")
	last := lastSegment(c.ExceptionType)
	msg := c.Message
	setKind := func(kind string) {
		if c.Kind != kind {
			c.Kind = kind
			c.detail("format", format)
		}
	}
	switch {
	case last == "AirflowTaskTimeout":
		setKind(KindAirflow)
		c.detail("reason", "execution_timeout")
		if m := pidRe.FindStringSubmatch(msg); m != nil {
			c.detail("pid", m[1])
		}
	case last == "AirflowSensorTimeout":
		setKind(KindAirflow)
		c.detail("reason", "sensor_timeout")
		sensorDetails(c, msg)
	case last == "AirflowTaskTerminated" || strings.Contains(msg, "Task received SIGTERM signal"):
		setKind(KindAirflow)
		c.detail("reason", "sigterm")
		c.detail("signal", "SIGTERM")
		c.Confidence = min(c.Confidence, 0.6)
	case last == "AirflowException" && strings.Contains(msg, "Bash command failed"):
		setKind(KindAirflow)
		c.detail("reason", "bash_failed")
		if m := nonZeroExitRe.FindStringSubmatch(msg); m != nil {
			exitDetails(c, m[1])
		}
		c.wrap(0.3)
	case last == "AirflowException" && strings.HasPrefix(msg, "Cannot execute:"):
		setKind(KindAirflow)
		c.detail("reason", "command_failed") // spark-submit and other hooks' CLI wrappers
		if m := errorCodeRe.FindStringSubmatch(msg); m != nil {
			exitDetails(c, m[1])
		}
		c.wrap(0.3)
	case strings.Contains(msg, "Celery command failed"):
		setKind(KindAirflow)
		c.detail("reason", "celery_command_failed")
		c.wrap(0.3)
	case strings.Contains(msg, "returned a failure") || strings.Contains(msg, "Pod Launching failed") ||
		strings.Contains(msg, "Pod returned a failure"):
		if podReasonRe.MatchString(msg) {
			setKind(KindKubernetes)
			kubeMessageDetails(c, msg)
			c.Confidence = max(c.Confidence, 0.85)
			break
		}
		setKind(KindAirflow)
		c.detail("reason", "pod_failed")
		c.wrap(0.35)
	case last == "AirflowSkipException":
		c.Confidence = 0.1
	case last == "CalledProcessError" || last == "Py4JJavaError" || last == "DbtCloudJobRunException" ||
		last == "ForkError" || strings.HasSuffix(last, "JobRunException"):
		if m := exitStatusRe.FindStringSubmatch(msg); m != nil {
			exitDetails(c, m[1])
		}
		c.wrap(0.35)
	case isPostgresType(all) || isPostgresMessage(msg):
		setKind(KindPostgres)
		postgresDetails(c, msg, types)
	case snowflakeRe.MatchString(msg) || strings.Contains(strings.ToLower(all), "snowflake"):
		setKind(KindSnowflake)
		snowflakeDetails(c, msg)
	case isBigQuery(all, msg):
		setKind(KindBigQuery)
		// The client prints the location and job id after the message.
		ctx := msg
		for k := c.End; k < s.n() && k < c.End+6 && s.free(k) && len(ctx) < 8192; k++ {
			ctx += "\n" + s.text(k)
		}
		bigqueryDetails(c, ctx)
	case isSparkError(all, msg):
		setKind(KindSpark)
		s.sparkDetails(c, msg)
	case podReasonRe.MatchString(msg) && (strings.Contains(msg, "OOMKilled") || strings.Contains(msg, "Evicted")):
		setKind(KindKubernetes)
		kubeMessageDetails(c, msg)
	}
	if c.Kind == KindJava || c.Kind == KindPython {
		// A message that names a database error is still that database's.
		c.detail("sqlstate", findSQLState(msg))
	}
}

// wrap marks c as a wrapper and caps its confidence.
func (c *cand) wrap(conf float64) {
	c.wrapper = true
	c.Confidence = min(c.Confidence, conf)
	c.detail("wrapper", "true")
}

func lastSegment(typ string) string {
	typ = strings.TrimRight(typ, ":")
	if i := strings.LastIndexAny(typ, ".$:"); i >= 0 {
		return typ[i+1:]
	}
	return typ
}

var (
	pidRe         = regexp.MustCompile(`PID: ?(\d+)`)
	nonZeroExitRe = regexp.MustCompile(`non-zero exit code (-?\d+)`)
	errorCodeRe   = regexp.MustCompile(`Error code is: (-?\d+)`)
	exitStatusRe  = regexp.MustCompile(`(?:non-zero exit status|exit code|exit status|return code)[: ]+(-?\d+)`)
	sensorRunRe   = regexp.MustCompile(`run duration of (\d+(?:\.\d+)?) seconds exceeds the specified timeout of (\d+(?:\.\d+)?)`)
)

func sensorDetails(c *cand, msg string) {
	if m := sensorRunRe.FindStringSubmatch(msg); m != nil {
		c.detail("duration_seconds", m[1])
		c.detail("timeout_seconds", m[2])
	}
}

// exitDetails records an exit code and the signal it stands for: -N is a
// child killed by signal N (Python's convention), 128+N the shell's.
func exitDetails(c *cand, code string) {
	c.detail("exit_code", code)
	if sig := exitSignal(code); sig != "" {
		c.detail("signal", sig)
	}
}

var signalNames = map[int]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
	9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
}

func exitSignal(code string) string {
	n, err := strconv.Atoi(code)
	if err != nil {
		return ""
	}
	switch {
	case n < 0:
		return signalNames[-n]
	case n > 128 && n < 160:
		return signalNames[n-128]
	}
	return ""
}
