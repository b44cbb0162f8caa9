package extract

import (
	"regexp"
	"strconv"
	"strings"
)

// airflowRule recognises one of Airflow's own failure lines.
type airflowRule struct {
	lit     []string // the line must contain one of these for re to be tried
	re      *regexp.Regexp
	reason  string
	conf    float64
	wrapper bool
	// apply refines the block from the match; it returns false to drop it
	// (a return code 0).
	apply func(c *cand, m []string) bool
}

var (
	kvSignalRe   = regexp.MustCompile(`\bsignal=(-?\d+)`)
	kvSignalName = regexp.MustCompile(`\bsignal_name="?(\w+)`)
	kvExitRe     = regexp.MustCompile(`\bexit_code=(-?\d+)`)
)

// returnCode handles "return code N": negative is a signal (-9 is SIGKILL,
// the OOM killer's or an operator's), positive a plain failure that says
// nothing about why.
func returnCode(code string, c *cand) bool {
	n, err := strconv.Atoi(code)
	if err != nil || n == 0 {
		return false
	}
	exitDetails(c, code)
	switch sig := c.Details["signal"]; {
	case sig == "SIGKILL":
		c.detail("reason", "sigkill")
		c.Confidence = 0.6
	case sig == "SIGTERM":
		c.detail("reason", "sigterm")
		c.Confidence = 0.5
	case sig != "":
		c.detail("reason", "signal")
		c.Confidence = 0.55
	default:
		c.detail("reason", "return_code")
		c.Confidence = 0.15
		c.wrap(0.15)
	}
	return true
}

var airflowRules = []airflowRule{
	{lit: []string{"Task exited with return code"}, re: regexp.MustCompile(`Task exited with return code (-?\d+)(.*)`), apply: func(c *cand, m []string) bool {
		return !strings.Contains(m[2], "deferral") && returnCode(m[1], c)
	}},
	{lit: []string{"Command exited with return code"}, re: regexp.MustCompile(`Command exited with return code (-?\d+)`), apply: func(c *cand, m []string) bool {
		return returnCode(m[1], c)
	}},
	{
		lit: []string{"was killed before it finished"}, re: regexp.MustCompile(`Job (\d+) was killed before it finished \(likely due to running out of memory\)`), reason: "killed_oom", conf: 0.65,
		apply: func(c *cand, m []string) bool { c.detail("signal", "SIGKILL"); c.detail("job_id", m[1]); return true },
	},
	{lit: []string{"Process terminated by signal"}, re: regexp.MustCompile(`Process terminated by signal`), reason: "signal", conf: 0.65, apply: func(c *cand, m []string) bool {
		if sm := kvSignalRe.FindStringSubmatch(c.Message); sm != nil {
			exitDetails(c, sm[1])
			c.detail("signal", exitSignal(sm[1]))
		}
		if sm := kvSignalName.FindStringSubmatch(c.Message); sm != nil {
			c.detail("signal", sm[1])
		}
		if c.Details["signal"] == "SIGKILL" {
			c.detail("reason", "sigkill")
		}
		return true
	}},
	{lit: []string{"Process exited"}, re: regexp.MustCompile(`Process exited\b`), apply: func(c *cand, m []string) bool {
		sm := kvExitRe.FindStringSubmatch(c.Message)
		return sm != nil && returnCode(sm[1], c)
	}},
	{
		lit: []string{"Received SIGTERM"}, re: regexp.MustCompile(`Received SIGTERM\. Terminating subprocesses`), reason: "sigterm", conf: 0.55,
		apply: func(c *cand, m []string) bool { c.detail("signal", "SIGTERM"); return true },
	},
	{
		lit: []string{"externally set to"}, re: regexp.MustCompile(`State of this instance has been externally set to (\w+)\. Terminating instance`), reason: "externally_set", conf: 0.85,
		apply: func(c *cand, m []string) bool { c.detail("state", m[1]); return true },
	},
	{lit: []string{"Recorded pid"}, re: regexp.MustCompile(`Recorded pid (\d+) does not match the current pid (\d+)`), reason: "pid_mismatch", conf: 0.7},
	{lit: []string{"ombie", "without a heartbeat"}, re: regexp.MustCompile(`(?i)Detected zombie job|zombie task|Detected a task instance without a heartbeat|without a heartbeat`), reason: "zombie", conf: 0.8},
	{lit: []string{"Heartbeat time limit", "Time since last heartbeat", "failed heartbeats"}, re: regexp.MustCompile(`Heartbeat time limit exceeded|Time since last heartbeat\(([\d.]+)s\) exceeded limit \(([\d.]+)s\)|Too many failed heartbeats`), reason: "heartbeat", conf: 0.8},
	{lit: []string{"Failed to send heartbeat"}, re: regexp.MustCompile(`Failed to send heartbeat`), reason: "heartbeat", conf: 0.4},
	{lit: []string{"Server indicated the task", "killed externally", "although the task says"}, re: regexp.MustCompile(`Server indicated the task shouldn't be running anymore|(?i)was the task killed externally|killed externally|finished \(failed\) although the task says it's (\w+)`), reason: "killed_externally", conf: 0.75},
	{
		lit: []string{"Process timed out"}, re: regexp.MustCompile(`Process timed out(?:, PID: (\d+))?`), reason: "execution_timeout", conf: 0.8,
		apply: func(c *cand, m []string) bool { c.detail("pid", m[1]); return true },
	},
	{lit: []string{"AirflowTaskTimeout"}, re: regexp.MustCompile(`AirflowTaskTimeout\b:?\s*(.*)`), reason: "execution_timeout", conf: 0.8},
	{
		lit: []string{"AirflowSensorTimeout", "Sensor has timed out", "Time is OUT"}, re: regexp.MustCompile(`AirflowSensorTimeout\b|Sensor has timed out|Snap\. Time is OUT`), reason: "sensor_timeout", conf: 0.85,
		apply: func(c *cand, m []string) bool { sensorDetails(c, c.Message); return true },
	},
	{lit: []string{"has timed-out", "dagrun_timeout"}, re: regexp.MustCompile(`Run \S+ of \S+ has timed-out|dagrun_timeout`), reason: "dagrun_timeout", conf: 0.7},
	{
		lit: []string{"Bash command failed"}, re: regexp.MustCompile(`Bash command failed\. The command returned a non-zero exit code (-?\d+)`), reason: "bash_failed", conf: 0.25, wrapper: true,
		apply: func(c *cand, m []string) bool { exitDetails(c, m[1]); return true },
	},
	{lit: []string{"Failed to execute job"}, re: regexp.MustCompile(`Failed to execute job (\d+) for task (\S+)`), reason: "job_failed", conf: 0.2, wrapper: true},
	{lit: []string{"Celery command failed"}, re: regexp.MustCompile(`Celery command failed`), reason: "celery_command_failed", conf: 0.25, wrapper: true},
	{lit: []string{"returned a failure", "Pod Launching failed"}, re: regexp.MustCompile(`Pod \S+ returned a failure|Pod Launching failed`), reason: "pod_failed", conf: 0.3, wrapper: true},
	{
		lit: []string{"Broken DAG"}, re: regexp.MustCompile(`Broken DAG: \[([^\]]+)\]`), reason: "import_error", conf: 0.5,
		apply: func(c *cand, m []string) bool { c.detail("dag_file", m[1]); return true },
	},
	{lit: []string{"not able to be run", "Dependencies not met"}, re: regexp.MustCompile(`Task is not able to be run|Dependencies not met for`), reason: "not_runnable", conf: 0.35},
	{lit: []string{"from a dead executor"}, re: regexp.MustCompile(`Adopted the following \d+ tasks from a dead executor`), reason: "executor_restart", conf: 0.45},
	{
		lit: []string{"Killed"}, re: regexp.MustCompile(`^Killed$|\b\d+ Killed\s`), reason: "sigkill", conf: 0.55,
		apply: func(c *cand, m []string) bool { c.detail("signal", "SIGKILL"); return true },
	},
}

// airflowLines finds Airflow's own failure lines. Consecutive lines about
// the same reason (a SIGTERM being sent, received, handled) become one block.
func (s *scan) airflowLines() {
	var prev *cand
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := strings.TrimSpace(s.text(i))
		for _, r := range airflowRules {
			if !containsAny(t, r.lit...) {
				continue
			}
			m := r.re.FindStringSubmatch(t)
			if m == nil {
				continue
			}
			c := &cand{Block: Block{Kind: KindAirflow, Message: t, Start: i, End: i + 1, Confidence: r.conf}}
			c.detail("reason", r.reason)
			if r.wrapper {
				c.wrap(r.conf)
			}
			if r.apply != nil && !r.apply(c, m) {
				break
			}
			if prev != nil && prev.End >= i-2 && prev.Details["reason"] == c.Details["reason"] {
				prev.End = i + 1 // the same event, logged again
				s.claimed[i] = true
				break
			}
			s.add(c)
			prev = c
			break
		}
	}
}
