package airflowsim

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

const (
	tiSuccess        = "success"
	tiFailed         = "failed"
	tiUpForRetry     = "up_for_retry"
	tiUpstreamFailed = "upstream_failed"
	runQueued        = "queued"
	runRunning       = "running"
	runSuccess       = "success"
	runFailed        = "failed"

	defaultTryDuration = 20 * time.Second
	schedulingGap      = 2 * time.Second
)

// StartRun creates a DAG run and executes it to completion at once: tasks run
// in dependency order; a task downstream of a failed one ends
// upstream_failed; each try of a task consumes the next outcome of
// outcomes[taskID] (the last one repeats, a task without outcomes succeeds);
// a task with Retries=n gets up to n+1 tries. The run's timestamps are
// back-dated so that it ends at Clock(). The run type follows the run ID's
// prefix ("scheduled__", "manual__", "backfill__"...), manual otherwise.
// StartRun executes even when the DAG is paused. OnTaskFailed callbacks run
// before it returns.
func (s *Server) StartRun(dagID, runID string, logicalDate time.Time, outcomes map[string][]Outcome) (*DagRun, error) {
	s.mu.Lock()
	ds := s.dags[dagID]
	if ds == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("start run %s of %s: %w", runID, dagID, ErrUnknownDAG)
	}
	if runID == "" {
		runID = "scheduled__" + pyISO(logicalDate.UTC())
	}
	if s.findRun(dagID, runID) != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("start run %s of %s: %w", runID, dagID, ErrRunExists)
	}
	ld := logicalDate.UTC().Truncate(time.Microsecond)
	r := s.createRun(ds, runID, &ld, runTypeOf(runID), "timetable", outcomes, nil)
	failures := s.execute(ds, r)
	snap := r.snapshot()
	s.mu.Unlock()
	s.notify(failures)
	return snap, nil
}

func runTypeOf(runID string) string {
	for _, t := range []string{"scheduled", "backfill", "manual", "dataset_triggered", "asset_triggered"} {
		if strings.HasPrefix(runID, t+"__") {
			return t
		}
	}
	return "manual"
}

// createRun adds a queued run with one null-state TI per task. Callers hold
// s.mu.
func (s *Server) createRun(ds *dagState, runID string, logicalDate *time.Time, runType, triggeredBy string, outcomes map[string][]Outcome, conf map[string]any) *runState {
	now := s.now()
	if s.version == 3 {
		switch runType {
		case "dataset_triggered":
			runType = "asset_triggered"
		}
	} else if runType == "asset_triggered" {
		runType = "dataset_triggered"
	}
	if conf == nil {
		conf = map[string]any{}
	}
	r := &runState{
		id: len(s.runs) + 1, dagID: ds.ID, runID: runID, logicalDate: logicalDate, runAfter: now,
		runType: runType, triggeredBy: triggeredBy, state: runQueued, queuedAt: &now, updatedAt: now,
		conf: conf, outcomes: cloneOutcomes(outcomes), cursor: map[string]int{}, tis: map[string]*tiState{},
	}
	if logicalDate != nil {
		r.runAfter = *logicalDate
		if ds.Schedule != "" && runType == "scheduled" {
			// A scheduled run covers the interval that ends at its
			// run_after; for the demo's daily DAGs the logical date is the
			// interval start, as in Airflow 2.
			start, end := *logicalDate, logicalDate.Add(scheduleInterval(ds.Schedule))
			r.intervalS, r.intervalE = &start, &end
			r.runAfter = end
		} else {
			start, end := *logicalDate, *logicalDate
			r.intervalS, r.intervalE = &start, &end
		}
	}
	for _, id := range ds.order {
		r.tis[id] = &tiState{taskID: id, maxTries: ds.tasks[id].Retries, hostname: hostnameFor(ds.ID, id), updatedAt: now}
		r.order = append(r.order, id)
	}
	s.runs = append(s.runs, r)
	return r
}

// scheduleInterval approximates the interval of a cron schedule for data
// intervals: presets map to their period, anything else counts as daily.
func scheduleInterval(schedule string) time.Duration {
	switch schedule {
	case "@hourly":
		return time.Hour
	case "@weekly":
		return 7 * 24 * time.Hour
	}
	f := strings.Fields(schedule)
	if len(f) == 5 && f[1] == "*" {
		return time.Hour
	}
	return 24 * time.Hour
}

func hostnameFor(dagID, taskID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(dagID + "." + taskID))
	return fmt.Sprintf("airflow-worker-%d", h.Sum32()%3)
}

// attempt is one simulated try before its times are known.
type attempt struct {
	taskID     string
	try        int
	maxTries   int
	outcome    Outcome
	startOff   time.Duration
	endOff     time.Duration
	finalState string     // success, failed or up_for_retry
	res        *resources // set by the simulated cluster policy
}

type upstreamMark struct {
	taskID string
	at     time.Duration
}

// execute runs every null-state TI of r in dependency order, then
// materializes the simulated timeline so that it ends at now (never before
// what the run already recorded). Callers hold s.mu; the returned failures
// are for s.notify after unlocking.
func (s *Server) execute(ds *dagState, r *runState) []TaskFailure {
	var attempts []attempt
	var marks []upstreamMark
	state := map[string]string{}
	avail := map[string]time.Duration{}
	tries := map[string]int{}
	for _, id := range r.order {
		state[id] = r.tis[id].state
		tries[id] = r.tis[id].tryNumber
	}
	var span time.Duration
	for _, id := range r.order {
		if state[id] != "" {
			continue
		}
		ready := schedulingGap
		blocked := false
		for _, up := range ds.upstream[id] {
			switch state[up] {
			case tiFailed, tiUpstreamFailed:
				blocked = true
			}
			if avail[up]+schedulingGap > ready {
				ready = avail[up] + schedulingGap
			}
		}
		if blocked {
			state[id] = tiUpstreamFailed
			avail[id] = ready
			marks = append(marks, upstreamMark{taskID: id, at: ready})
			span = max(span, ready)
			continue
		}
		ti := r.tis[id]
		task := ds.tasks[id]
		res := s.policyResources(ds.ID, id, ti.tryNumber > 0) // a null TI that ran before was cleared
		for {
			tries[id]++
			o := r.nextOutcome(id)
			dur := o.Duration
			if dur <= 0 {
				dur = defaultTryDuration
			}
			a := attempt{taskID: id, try: tries[id], maxTries: ti.maxTries, outcome: o, startOff: ready, endOff: ready + dur, res: res}
			span = max(span, a.endOff)
			if o.State != StateFailed {
				a.finalState = tiSuccess
				attempts = append(attempts, a)
				state[id] = tiSuccess
				avail[id] = a.endOff
				break
			}
			if a.try <= ti.maxTries {
				a.finalState = tiUpForRetry
				attempts = append(attempts, a)
				ready = a.endOff + task.RetryDelay
				continue
			}
			a.finalState = tiFailed
			attempts = append(attempts, a)
			state[id] = tiFailed
			avail[id] = a.endOff
			break
		}
	}

	now := s.now()
	total := span + time.Second
	base := now.Add(-total)
	if last := r.lastTime(); !last.IsZero() && !base.After(last) {
		base = last.Add(time.Second)
	}
	at := func(off time.Duration) time.Time { return base.Add(off) }

	if r.startDate == nil {
		start := at(time.Second / 2)
		r.startDate = &start
	}
	r.state = runRunning

	var failures []TaskFailure
	for _, a := range attempts {
		ti := r.tis[a.taskID]
		task := ds.tasks[a.taskID]
		start, end := at(a.startOff), at(a.endOff)
		queued := start.Add(-time.Second)
		rec := &tryRecord{
			try: a.try, maxTries: a.maxTries, start: start, end: end, queued: queued,
			hostname: ti.hostname, pid: 30000 + s.nextSeq(), jobID: s.nextSeq(),
			exitCode: a.outcome.ExitCode, silentKill: a.outcome.SilentKill,
		}
		if a.outcome.ExitCode == 0 && a.finalState != tiSuccess {
			rec.exitCode = 1
		}
		rec.state = tiSuccess
		if a.finalState != tiSuccess {
			rec.state = tiFailed
		}
		lc := logContext{
			version: s.version, dag: ds, task: task, run: r, rec: rec, finalState: a.finalState,
		}
		rec.log, rec.exception = buildTryLog(lc, a.outcome)
		ti.tries = append(ti.tries, rec)
		s.recordResources(rec, a.res)
		ti.tryNumber = a.try
		ti.state = a.finalState
		ti.start, ti.end = &rec.start, &rec.end
		d := end.Sub(start).Seconds()
		ti.duration = &d
		pid := rec.pid
		ti.pid = &pid
		ti.queuedWhen, ti.schedWhen = &rec.queued, &rec.queued
		ti.updatedAt = now
		if rec.state == tiFailed && !rec.silentKill {
			failures = append(failures, s.failureFor(ds, r, task, rec, a.finalState == tiUpForRetry))
		}
	}
	for _, m := range marks {
		ti := r.tis[m.taskID]
		t := at(m.at)
		ti.state = tiUpstreamFailed
		ti.start, ti.end = &t, &t
		zero := 0.0
		ti.duration = &zero
		ti.updatedAt = now
	}
	r.state = runSuccess
	for _, id := range r.order {
		switch r.tis[id].state {
		case tiFailed, tiUpstreamFailed:
			r.state = runFailed
		}
	}
	end := at(total)
	r.endDate = &end
	r.lastSched = &end
	r.updatedAt = now
	return failures
}

func (s *Server) failureFor(ds *dagState, r *runState, task *Task, rec *tryRecord, willRetry bool) TaskFailure {
	f := TaskFailure{
		DagID: ds.ID, RunID: r.runID, TaskID: task.ID, TryNumber: rec.try, MaxTries: rec.maxTries,
		Exception: rec.exception, Owner: task.Owner, Tags: append([]string(nil), ds.Tags...),
		Hostname: rec.hostname, WillRetry: willRetry, StartDate: rec.start, EndDate: rec.end,
	}
	if r.logicalDate != nil {
		f.LogicalDate = *r.logicalDate
	}
	if s.version == 3 {
		f.LogURL = fmt.Sprintf("%s/dags/%s/runs/%s/tasks/%s?try_number=%d",
			s.opts.BaseURL, pyQuote(ds.ID), pyQuote(r.runID), pyQuote(task.ID), rec.try)
	} else {
		f.LogURL = fmt.Sprintf("%s/dags/%s/grid?dag_run_id=%s&task_id=%s&map_index=-1&tab=logs",
			s.opts.BaseURL, pyQuote(ds.ID), pyQuote(r.runID), pyQuote(task.ID))
	}
	return f
}

// pyQuote percent-encodes everything but unreserved characters, like
// Python's urllib.parse.quote(s, safe="").
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
