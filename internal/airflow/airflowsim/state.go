package airflowsim

import (
	"crypto/sha1"
	"fmt"
	"slices"
	"sync"
	"time"
)

// dagState is a DAG as the server keeps it.
type dagState struct {
	DAG
	order    []string // topological, stable in declaration order
	tasks    map[string]*Task
	upstream map[string][]string
	created  time.Time
}

func newDagState(d DAG, now time.Time) (*dagState, error) {
	d.Owners = slices.Clone(d.Owners)
	d.Tags = slices.Clone(d.Tags)
	d.Tasks = slices.Clone(d.Tasks)
	if d.FileLoc == "" {
		d.FileLoc = "/opt/airflow/dags/" + d.ID + ".py"
	}
	ds := &dagState{DAG: d, tasks: map[string]*Task{}, upstream: map[string][]string{}, created: now}
	for i := range ds.Tasks {
		t := &ds.Tasks[i]
		t.Downstream = slices.Clone(t.Downstream)
		if t.Operator == "" {
			t.Operator = "PythonOperator"
		}
		if t.Owner == "" {
			t.Owner = "airflow"
			if len(d.Owners) > 0 {
				t.Owner = d.Owners[0]
			}
		}
		if t.Pool == "" {
			t.Pool = "default_pool"
		}
		if t.Queue == "" {
			t.Queue = "default"
		}
		if t.RetryDelay <= 0 {
			t.RetryDelay = 5 * time.Minute
		}
		ds.tasks[t.ID] = t
	}
	for _, t := range ds.Tasks {
		for _, down := range t.Downstream {
			ds.upstream[down] = append(ds.upstream[down], t.ID)
		}
	}
	// Kahn's algorithm, always taking the earliest-declared ready task, so
	// the order is deterministic and matches how a reader lists the DAG.
	indeg := map[string]int{}
	for _, t := range ds.Tasks {
		indeg[t.ID] = len(ds.upstream[t.ID])
	}
	done := map[string]bool{}
	for len(ds.order) < len(ds.Tasks) {
		progressed := false
		for _, t := range ds.Tasks {
			if done[t.ID] || indeg[t.ID] > 0 {
				continue
			}
			done[t.ID] = true
			ds.order = append(ds.order, t.ID)
			for _, down := range t.Downstream {
				indeg[down]--
			}
			progressed = true
			break
		}
		if !progressed {
			return nil, fmt.Errorf("airflowsim: DAG %s has a dependency cycle", d.ID)
		}
	}
	return ds, nil
}

// downstreamClosure returns ids plus every task downstream of them.
func (d *dagState) downstreamClosure(ids []string) map[string]bool {
	out := map[string]bool{}
	var visit func(string)
	visit = func(id string) {
		if out[id] {
			return
		}
		out[id] = true
		for _, down := range d.tasks[id].Downstream {
			visit(down)
		}
	}
	for _, id := range ids {
		visit(id)
	}
	return out
}

// upstreamClosure returns ids plus every task upstream of them.
func (d *dagState) upstreamClosure(ids []string) map[string]bool {
	out := map[string]bool{}
	var visit func(string)
	visit = func(id string) {
		if out[id] {
			return
		}
		out[id] = true
		for _, up := range d.upstream[id] {
			visit(up)
		}
	}
	for _, id := range ids {
		visit(id)
	}
	return out
}

// runState is a DAG run with its task instances.
type runState struct {
	id          int
	dagID       string
	runID       string
	logicalDate *time.Time
	runAfter    time.Time
	runType     string
	triggeredBy string
	state       string
	queuedAt    *time.Time
	startDate   *time.Time
	endDate     *time.Time
	intervalS   *time.Time
	intervalE   *time.Time
	lastSched   *time.Time
	updatedAt   time.Time
	conf        map[string]any
	note        *string
	clearNumber int

	outcomes map[string][]Outcome
	cursor   map[string]int
	tis      map[string]*tiState
	order    []string
}

// lastTime is the latest timestamp recorded in the run.
func (r *runState) lastTime() time.Time {
	var t time.Time
	if r.endDate != nil && r.endDate.After(t) {
		t = *r.endDate
	}
	for _, ti := range r.tis {
		if ti.end != nil && ti.end.After(t) {
			t = *ti.end
		}
	}
	return t
}

// nextOutcome returns the next scripted outcome for a task; the last one
// repeats, and an unscripted task succeeds.
func (r *runState) nextOutcome(taskID string) Outcome {
	list := r.outcomes[taskID]
	if len(list) == 0 {
		return Outcome{State: StateSuccess}
	}
	i := r.cursor[taskID]
	r.cursor[taskID] = i + 1
	if i >= len(list) {
		i = len(list) - 1
	}
	return list[i]
}

// tiState is one task instance of a run.
type tiState struct {
	taskID     string
	state      string // "" is null
	tryNumber  int
	maxTries   int
	start      *time.Time
	end        *time.Time
	duration   *float64
	hostname   string
	pid        *int
	queuedWhen *time.Time
	schedWhen  *time.Time
	updatedAt  time.Time
	tries      []*tryRecord // index try_number-1
}

// try returns the record of try n, or nil.
func (ti *tiState) try(n int) *tryRecord {
	if n < 1 || n > len(ti.tries) {
		return nil
	}
	return ti.tries[n-1]
}

// tryRecord is one executed try, kept as TaskInstanceHistory keeps it.
type tryRecord struct {
	try        int
	state      string
	maxTries   int
	start, end time.Time
	queued     time.Time
	hostname   string
	pid        int
	jobID      int
	exitCode   int
	exception  string
	silentKill bool
	log        *tryLog
}

// tryLog is the rendered log of one try. The parsed form for 3.x is built on
// first use and kept, since a 5 MB log takes a moment to parse.
type tryLog struct {
	path  string // as the file task handler would name it
	lines []logLine
	once  sync.Once
	v2    []logEntry
}

func cloneOutcomes(in map[string][]Outcome) map[string][]Outcome {
	out := make(map[string][]Outcome, len(in))
	for k, v := range in {
		out[k] = slices.Clone(v)
	}
	return out
}

// uuidFor returns a stable UUID-shaped string for a key, so 3.x ids are
// deterministic.
func uuidFor(parts ...any) string {
	h := sha1.Sum(fmt.Append(nil, parts...))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (r *runState) snapshot() *DagRun {
	out := &DagRun{DagID: r.dagID, RunID: r.runID, RunType: r.runType, State: r.state}
	if r.logicalDate != nil {
		out.LogicalDate = *r.logicalDate
	}
	if r.startDate != nil {
		out.StartDate = *r.startDate
	}
	if r.endDate != nil {
		out.EndDate = *r.endDate
	}
	for _, id := range r.order {
		ti := r.tis[id]
		s := TaskInstance{TaskID: id, State: ti.state, TryNumber: ti.tryNumber, MaxTries: ti.maxTries}
		if ti.start != nil {
			s.StartDate = *ti.start
		}
		if ti.end != nil {
			s.EndDate = *ti.end
		}
		for _, t := range ti.tries {
			s.Tries = append(s.Tries, TaskTry{
				TryNumber: t.try, State: t.state, StartDate: t.start, EndDate: t.end,
				Hostname: t.hostname, ExitCode: t.exitCode, Exception: t.exception, SilentKill: t.silentKill,
			})
		}
		out.TaskInstances = append(out.TaskInstances, s)
	}
	return out
}

// DagRun returns a snapshot of a run.
func (s *Server) DagRun(dagID, runID string) (*DagRun, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRun(dagID, runID)
	if r == nil {
		return nil, false
	}
	return r.snapshot(), true
}

// DagRuns returns snapshots of every run, in creation order.
func (s *Server) DagRuns() []*DagRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*DagRun, 0, len(s.runs))
	for _, r := range s.runs {
		out = append(out, r.snapshot())
	}
	return out
}

// DAGs returns the IDs of the added DAGs, in the order they were added.
func (s *Server) DAGs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dagOrder)
}

// TaskLog returns the 2.x-style text of one try's log (what text/plain would
// stream, without the hostname line).
func (s *Server) TaskLog(dagID, runID, taskID string, try int) (string, bool) {
	s.mu.Lock()
	r := s.findRun(dagID, runID)
	var rec *tryRecord
	if r != nil && r.tis[taskID] != nil {
		rec = r.tis[taskID].try(try)
	}
	s.mu.Unlock()
	if rec == nil {
		return "", false
	}
	return renderV1Text(rec.log.lines), true
}

func (s *Server) findRun(dagID, runID string) *runState {
	for _, r := range s.runs {
		if r.dagID == dagID && r.runID == runID {
			return r
		}
	}
	return nil
}
