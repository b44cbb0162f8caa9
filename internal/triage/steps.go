package triage

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/store"
)

// resolve makes sure the incident knows which task tries failed. An incident
// opened by a person's triage request has no events yet: the run's failed
// tasks are looked up and recorded as events, joining this incident.
func (r *Runner) resolve(ctx context.Context, st *state) (*incident.Finding, error) {
	events, err := r.store.EventListByIncident(ctx, st.inc.ID)
	if err != nil {
		return nil, err
	}
	var discovered []string
	if len(events) == 0 {
		tis, err := st.af.ListTaskInstances(ctx, st.inc.DagID, st.inc.RunID)
		if err != nil {
			return nil, fmt.Errorf("list task instances of %s/%s: %w", st.inc.DagID, st.inc.RunID, err)
		}
		for _, ti := range tis {
			if ti.State != "failed" && ti.State != "up_for_retry" {
				continue
			}
			if st.inc.FirstTaskID != "" && ti.TaskID != st.inc.FirstTaskID {
				continue
			}
			ev := &incident.FailureEvent{
				Key:      incident.Key{Instance: st.inc.Instance, DagID: ti.DagID, RunID: ti.RunID, TaskID: ti.TaskID, TryNumber: max(1, ti.TryNumber)},
				MapIndex: ti.MapIndex, Source: incident.SourceAPI,
			}
			if ti.EndDate != nil {
				ev.OccurredAt = *ti.EndDate
			}
			if _, err := r.events.RecordEvent(ctx, ev); err != nil {
				return nil, fmt.Errorf("record failure of %s: %w", ti.TaskID, err)
			}
			discovered = append(discovered, fmt.Sprintf("%s (try %d)", ti.TaskID, ti.TryNumber))
		}
	}
	summary := fmt.Sprintf("%d failure report(s) received", len(events))
	if len(events) == 0 {
		summary = fmt.Sprintf("no failure reported yet; found %d failed task(s) in the run", len(discovered))
	}
	return &incident.Finding{Summary: summary, Data: mustJSON(map[string]any{"events": len(events), "discovered": discovered})}, nil
}

// focus picks the task the later steps examine: the run's first failing task
// when the summary found one, else the earliest reported failure.
func (r *Runner) focus(ctx context.Context, st *state) error {
	if st.focusTask != "" {
		return nil
	}
	if rs, ok := decode[RunSummary](st.done[StepRunSummary]); ok && rs.FirstFailingTask != "" {
		st.focusTask, st.focusTry = rs.FirstFailingTask, rs.FirstFailingTry
		return nil
	}
	events, err := r.store.EventListByIncident(ctx, st.inc.ID)
	if err != nil {
		return err
	}
	if len(events) > 0 {
		st.focusTask, st.focusTry = events[0].TaskID, events[0].TryNumber
		return nil
	}
	if st.inc.FirstTaskID == "" {
		return errors.New("no failed task is known for this incident")
	}
	st.focusTask, st.focusTry = st.inc.FirstTaskID, 1
	return nil
}

func (r *Runner) runSummary(ctx context.Context, st *state) (*incident.Finding, error) {
	rs, err := SummarizeRun(ctx, st.af, st.inc.DagID, st.inc.RunID)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("run %s is %s; %d of %d tasks failed", rs.RunID, rs.State, rs.TaskStates["failed"], rs.Tasks)
	if rs.FirstFailingTask != "" {
		summary += fmt.Sprintf("; first failure: %s (try %d)", rs.FirstFailingTask, rs.FirstFailingTry)
	}
	return &incident.Finding{Summary: summary, Data: mustJSON(rs), Evidence: []incident.Evidence{{
		Source: "airflow_api", Ref: fmt.Sprintf("dags/%s/dagRuns/%s", rs.DagID, rs.RunID), Text: "state=" + rs.State,
	}}}, nil
}

// SummarizeRun reads a DAG run and its task instances from Airflow and
// summarises them: state, timing, task states and the first failing task.
// The DAG's owners and tags are added when Airflow has them; a DAG that
// cannot be read leaves them out. It is the run_summary step's data, and
// what every other reader of a run's summary (the MCP tools) shows.
func SummarizeRun(ctx context.Context, af Airflow, dagID, runID string) (*RunSummary, error) {
	run, err := af.GetDagRun(ctx, dagID, runID)
	if err != nil {
		return nil, fmt.Errorf("get run %s/%s: %w", dagID, runID, err)
	}
	tis, err := af.ListTaskInstances(ctx, dagID, runID)
	if err != nil {
		return nil, fmt.Errorf("list task instances of %s/%s: %w", dagID, runID, err)
	}
	rs := &RunSummary{
		DagID: run.DagID, RunID: run.RunID, State: run.State, RunType: run.RunType, LogicalDate: run.LogicalDate,
		StartDate: run.StartDate, EndDate: run.EndDate, Tasks: len(tis), TaskStates: map[string]int{},
	}
	if run.StartDate != nil && run.EndDate != nil {
		d := run.EndDate.Sub(*run.StartDate).Seconds()
		rs.DurationSec = &d
	}
	var first *airflow.TaskInstance
	for i := range tis {
		ti := &tis[i]
		rs.TaskStates[stateName(ti.State)]++
		if ti.State != "failed" {
			continue
		}
		if first == nil || endsBefore(ti, first) {
			first = ti
		}
	}
	if first != nil {
		rs.FirstFailingTask, rs.FirstFailingTry = first.TaskID, first.TryNumber
	}
	// Owners and tags are extras: a DAG that cannot be read (not found, or
	// Airflow hiccuping) leaves them out rather than failing the summary.
	if dag, err := af.GetDag(ctx, dagID); err == nil {
		rs.Owners, rs.Tags = dag.Owners, dag.Tags
	}
	return rs, nil
}

func stateName(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func endsBefore(a, b *airflow.TaskInstance) bool {
	switch {
	case a.EndDate == nil:
		return false
	case b.EndDate == nil:
		return true
	case a.EndDate.Equal(*b.EndDate):
		return a.TaskID < b.TaskID
	}
	return a.EndDate.Before(*b.EndDate)
}

func (r *Runner) failedTasks(ctx context.Context, st *state) (*incident.Finding, error) {
	ft, err := ListFailedTasks(ctx, st.af, st.inc.DagID, st.inc.RunID)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ft.Failed))
	for i, f := range ft.Failed {
		names[i] = fmt.Sprintf("%s (try %d/%d)", f.TaskID, f.TryNumber, max(f.TryNumber, f.MaxTries+1))
	}
	summary := fmt.Sprintf("%d failed: %s", len(ft.Failed), strings.Join(names, ", "))
	if len(ft.Failed) == 0 {
		summary = "no task is in a failed state now"
	}
	if n := len(ft.UpstreamFailed); n > 0 {
		summary += fmt.Sprintf("; %d blocked downstream", n)
	}
	return &incident.Finding{Summary: summary, Data: mustJSON(ft)}, nil
}

// ListFailedTasks lists a run's failed (and up-for-retry) task instances,
// the one that ended first first, each with the tasks downstream of it,
// and the tasks blocked upstream_failed. It is the failed_tasks step's data.
func ListFailedTasks(ctx context.Context, af Airflow, dagID, runID string) (*FailedTasks, error) {
	tis, err := af.ListTaskInstances(ctx, dagID, runID)
	if err != nil {
		return nil, fmt.Errorf("list task instances of %s/%s: %w", dagID, runID, err)
	}
	downstream := map[string][]string{}
	if dag, err := af.GetDag(ctx, dagID); err == nil {
		for _, t := range dag.Tasks {
			downstream[t.ID] = t.Downstream
		}
	}
	ft := &FailedTasks{}
	for _, ti := range tis {
		switch ti.State {
		case "failed", "up_for_retry":
			ft.Failed = append(ft.Failed, FailedTask{
				TaskID: ti.TaskID, State: ti.State, TryNumber: ti.TryNumber, MaxTries: ti.MaxTries,
				Operator: ti.Operator, Hostname: ti.Hostname, StartDate: ti.StartDate, EndDate: ti.EndDate, DurationSec: ti.Duration,
				Downstream: downstream[ti.TaskID],
			})
		case "upstream_failed":
			ft.UpstreamFailed = append(ft.UpstreamFailed, ti.TaskID)
		}
	}
	sort.Slice(ft.Failed, func(i, j int) bool {
		a, b := ft.Failed[i], ft.Failed[j]
		return endsBefore(&airflow.TaskInstance{TaskID: a.TaskID, EndDate: a.EndDate}, &airflow.TaskInstance{TaskID: b.TaskID, EndDate: b.EndDate})
	})
	sort.Strings(ft.UpstreamFailed)
	return ft, nil
}

func (r *Runner) frequency(ctx context.Context, st *state) (*incident.Finding, error) {
	if err := r.focus(ctx, st); err != nil {
		return nil, err
	}
	fq, err := CountFailures(ctx, st.af, FrequencyQuery{
		DagID: st.inc.DagID, TaskID: st.focusTask, RunID: st.inc.RunID, Since: r.now().Add(-r.opts.FrequencyLookback),
		Lookback: r.opts.FrequencyLookback, RecurringThreshold: r.opts.RecurringThreshold,
	})
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("%s: failed in %d run(s) over the last %s", fq.Pattern, fq.FailedRuns, fq.LookbackHuman)
	return &incident.Finding{Summary: summary, Data: mustJSON(fq)}, nil
}

// FrequencyQuery asks how often a task failed since a time.
type FrequencyQuery struct {
	DagID, TaskID string
	// RunID is the run being looked at: it counts as a failed run, and
	// is not listed among the previous ones.
	RunID    string
	Since    time.Time
	Lookback time.Duration
	// RecurringThreshold is how many failed runs make the failure
	// recurring.
	RecurringThreshold int
}

// CountFailures counts a task's failed tries since q.Since, the runs they
// failed in and whether that makes the failure recurring. It is the
// frequency step's data.
func CountFailures(ctx context.Context, af Airflow, q FrequencyQuery) (*Frequency, error) {
	tis, err := af.ListTaskFailures(ctx, q.DagID, q.TaskID, q.Since)
	if err != nil {
		return nil, fmt.Errorf("list failures of %s.%s: %w", q.DagID, q.TaskID, err)
	}
	fq := &Frequency{TaskID: q.TaskID, Lookback: q.Lookback, LookbackHuman: humanDuration(q.Lookback)}
	runs := map[string]bool{}
	if q.RunID != "" {
		runs[q.RunID] = true
	}
	for _, ti := range tis {
		fq.Failures++
		if !runs[ti.RunID] {
			runs[ti.RunID] = true
			fq.PreviousRuns = append(fq.PreviousRuns, ti.RunID)
		}
		if ti.EndDate != nil && ti.RunID != q.RunID && (fq.LastFailure == nil || ti.EndDate.After(*fq.LastFailure)) {
			t := *ti.EndDate
			fq.LastFailure = &t
		}
	}
	slices.Sort(fq.PreviousRuns)
	fq.FailedRuns = len(runs)
	fq.Recurring = fq.FailedRuns >= q.RecurringThreshold
	fq.Pattern = "one-off"
	if fq.Recurring {
		fq.Pattern = "recurring"
	}
	return fq, nil
}

func (r *Runner) logExcerpt(ctx context.Context, st *state) (*incident.Finding, error) {
	if err := r.focus(ctx, st); err != nil {
		return nil, err
	}
	lg, err := ReadLog(ctx, st.af, st.inc.DagID, st.inc.RunID, st.focusTask, max(1, st.focusTry),
		airflow.LogOptions{MaxLines: r.opts.LogTailLines, MaxBytes: r.opts.LogMaxBytes})
	if err != nil {
		return nil, err
	}
	lines := lg.Lines
	ex := LogExcerpt{
		TaskID: st.focusTask, TryNumber: st.focusTry, TailLines: len(lines), LogBytes: lg.Bytes,
		Truncated: lg.Truncated, Sources: lg.Sources,
	}
	var evidence []incident.Evidence
	ref := fmt.Sprintf("%s try %d", st.focusTask, st.focusTry)
	from, to := excerptWindow(lines, logscan.ErrorLines(lines), r.opts.ExcerptLines)
	extracted := extract.Extract(lines)
	ex.Diagnosis = r.diagnose(st, lines, extracted)
	if root := extracted.Root; root != nil {
		// The extracted root cause names the failure; the window around the
		// error lines is kept, widened to the block's end if it ends later.
		if root.End > to {
			from, to = max(0, min(root.End+2, len(lines))-r.opts.ExcerptLines), min(root.End+2, len(lines))
		}
		sig := signature.Of(root)
		ex.Error, ex.Signature = root, &sig
		ex.Headline = root.Message
		if root.ExceptionType != "" {
			ex.Headline = root.ExceptionType + ": " + root.Message
		}
		q := quoteLine(lines, root)
		evidence = append(evidence, incident.Evidence{Source: "log", Ref: ref, Line: q + 1, Text: lines[q]})
	} else if idx, ok := headline(lines[from:to]); ok {
		ex.Headline = strings.TrimPrefix(stripPrefix(lines[from+idx]), causedBy)
		evidence = append(evidence, incident.Evidence{Source: "log", Ref: ref, Line: from + idx + 1, Text: lines[from+idx]})
	}
	ex.Headline = truncate(firstLineOf(ex.Headline), 300)
	ex.Lines, ex.FirstLine = lines[from:to], from+1
	for _, i := range logscan.ErrorLines(ex.Lines) {
		ex.ErrorLines = append(ex.ErrorLines, from+i+1)
	}
	ex.Templates = r.mine(lines, ex.ErrorLines)
	summary := fmt.Sprintf("log of %s try %d: %d line(s) read", st.focusTask, st.focusTry, len(lines))
	if ex.Truncated {
		summary += " (tail of a longer log)"
	}
	if ex.Headline != "" {
		summary += ": " + ex.Headline
	}
	return &incident.Finding{Summary: summary, Data: mustJSON(ex), Evidence: evidence}, nil
}

// quoteLine is the line of a block that states its error: the last one
// naming the exception type or starting the message, else the block's last.
func quoteLine(lines []string, b *extract.Block) int {
	end := min(b.End, len(lines))
	msg := firstLineOf(b.Message)
	if len(msg) > 40 {
		msg = msg[:40]
	}
	for i := end - 1; i >= max(0, b.Start); i-- {
		if (b.ExceptionType != "" && strings.Contains(lines[i], b.ExceptionType)) || (msg != "" && strings.Contains(lines[i], msg)) {
			return i
		}
	}
	return max(0, end-1)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// diagnose classifies the failure from the redacted tail, its extracted
// error and what the earlier steps know of the task (operator, state, how
// long the try ran, how many runs failed). Evidence lines become
// 1-based tail line numbers.
func (r *Runner) diagnose(st *state, lines []string, extracted *extract.Result) *classify.Diagnosis {
	ft, _ := decode[FailedTasks](st.done[StepFailedTasks])
	fq, _ := decode[Frequency](st.done[StepFrequency])
	return Diagnose(lines, extracted, TaskSignals(st.focusTask, st.focusTry, ft, fq))
}

// TaskSignals are the classifier's signals about a task try from what
// triage learned of its run: operator, state and how long the try ran
// (from ft), and how many runs failed (from fq, when it is about the same
// task). Either may be nil.
func TaskSignals(task string, try int, ft *FailedTasks, fq *Frequency) classify.Signals {
	sig := classify.Signals{TryNumber: try}
	if ft != nil {
		for _, f := range ft.Failed {
			if f.TaskID == task {
				sig.Operator, sig.State = f.Operator, f.State
				if f.DurationSec != nil && *f.DurationSec > 0 {
					sig.Duration = time.Duration(*f.DurationSec * float64(time.Second))
				}
			}
		}
	}
	// UsualDuration stays unknown: triage does not read the task's
	// successful tries.
	if fq != nil && fq.TaskID == task {
		sig.FailedRuns = fq.FailedRuns
	}
	return sig
}

// Diagnose classifies a failure from the redacted lines of its log tail,
// the error blocks extracted from them (nil: none were extracted) and the
// task's signals. Evidence lines become 1-based tail line numbers.
func Diagnose(lines []string, extracted *extract.Result, sig classify.Signals) *classify.Diagnosis {
	d := classify.Classify(classify.Input{Lines: lines, Extract: extracted, Signals: sig})
	for i := range d.Evidence {
		if d.Evidence[i].Line >= 0 {
			d.Evidence[i].Line++
		}
	}
	return &d
}

// mine feeds every redacted line's message to the template miner (so
// templates learn from whole logs, not only from errors) and returns the
// templates of the error lines (1-based numbers).
func (r *Runner) mine(lines []string, errorLines []int) []LineTemplate {
	if r.opts.Miner == nil {
		return nil
	}
	want := map[int]bool{}
	for _, n := range errorLines {
		want[n-1] = true
	}
	var out []LineTemplate
	for i, l := range lines {
		m := r.opts.Miner.Add(logscan.ParseLine(l).Message)
		if want[i] {
			out = append(out, LineTemplate{Line: i + 1, ID: m.ID, Template: m.Template})
		}
	}
	return out
}

// excerptWindow picks at most n lines ending a little after the last error
// line and starting no earlier than needed to include the first one.
func excerptWindow(lines []string, errs []int, n int) (int, int) {
	if len(errs) == 0 {
		return max(0, len(lines)-n), len(lines)
	}
	to := min(len(lines), errs[len(errs)-1]+4)
	from := max(0, errs[0]-2, to-n)
	return from, to
}

var (
	// exceptionLine is "pkg.mod.ClassName: message", how Python and the JVM
	// print an exception; all-caps labels (HINT:, DETAIL:) are not names.
	exceptionLine = regexp.MustCompile(`^(?:[A-Za-z_]\w*\.)*([A-Z]\w*[a-z]\w*)(?::\s+\S.*)?$`)
	airflowPrefix = regexp.MustCompile(`^\[[^\]]+\]\s*(?:\{[^}]*\}\s*)?(?:[A-Z]+\s*-\s*)?`)
	noiseLines    = []string{"Task failed with exception", "Marking task as", "Task exited with return code", "::endgroup::", "::group::"}
)

// causedBy starts the JVM's line for a chained exception; the last one is
// the root cause.
const causedBy = "Caused by: "

// headline returns the index of the line that best names the failure: the
// last exception line (for a JVM trace, the last "Caused by:"), else the last
// error-looking line that is not Airflow's generic bookkeeping, else the last
// error-looking line.
func headline(lines []string) (int, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimPrefix(strings.TrimSpace(stripPrefix(lines[i])), causedBy)
		if strings.Contains(l, ": ") && exceptionLine.MatchString(l) {
			return i, true
		}
	}
	errs := logscan.ErrorLines(lines)
	for j := len(errs) - 1; j >= 0; j-- {
		l := lines[errs[j]]
		if !slices.ContainsFunc(noiseLines, func(n string) bool { return strings.Contains(l, n) }) {
			return errs[j], true
		}
	}
	if len(errs) > 0 {
		return errs[len(errs)-1], true
	}
	return 0, false
}

func stripPrefix(l string) string { return strings.TrimSpace(airflowPrefix.ReplaceAllString(l, "")) }

func humanDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return d.String()
}

// maxHistory bounds how many earlier incidents the history finding lists.
const maxHistory = 5

// history records the failure's signature on the incident and finds the
// earlier incidents of the same failure.
func (r *Runner) history(ctx context.Context, st *state) (*incident.Finding, error) {
	ex, ok := decode[LogExcerpt](st.done[StepLogExcerpt])
	if !ok || ex.Signature == nil {
		return &incident.Finding{Summary: "no failure signature to look up (no error block in the log)", Data: mustJSON(History{})}, nil
	}
	if ex.Signature.Generic {
		return &incident.Finding{Summary: "the error names no exception and almost no message: its signature would match unrelated failures, so history is not looked up", Data: mustJSON(History{})}, nil
	}
	sig := ex.Signature.ID
	if err := r.store.IncidentSetSignature(ctx, &store.IncidentSetSignatureParams{ID: st.inc.ID, Signature: sig}); err != nil {
		return nil, err
	}
	page, err := r.store.IncidentList(ctx, &store.IncidentListParams{Signature: sig, Limit: maxHistory + 1})
	if err != nil {
		return nil, err
	}
	h := History{Signature: sig, Total: max(0, page.Total-1)}
	for _, in := range page.Incidents {
		if in.ID == st.inc.ID || len(h.Previous) == maxHistory {
			continue
		}
		h.Previous = append(h.Previous, PastIncident{
			ID: in.ID, DagID: in.DagID, RunID: in.RunID, State: string(in.State),
			Summary: in.Summary, CreatedAt: in.CreatedAt,
		})
	}
	summary := "first time this failure is seen"
	if h.Total > 0 {
		summary = fmt.Sprintf("seen %d time(s) before, last in %s run %s", h.Total, h.Previous[0].DagID, h.Previous[0].RunID)
	}
	return &incident.Finding{Summary: summary, Data: mustJSON(h)}, nil
}

// RedactedLog is the tail of a task try's log, redacted.
type RedactedLog struct {
	// Lines are the tail's lines, redacted as one text before it was split.
	Lines []string
	// Bytes is how much of the log the client read to find the tail.
	Bytes int64
	// Truncated reports that the log is longer than the tail.
	Truncated bool
	// Sources are where Airflow read the log from, redacted.
	Sources []string
}

// ReadLog fetches the tail of a task try's log and redacts it. Every
// reader of a task log goes through it: the log never leaves it
// unredacted.
func ReadLog(ctx context.Context, af Airflow, dagID, runID, taskID string, try int, opts airflow.LogOptions) (*RedactedLog, error) {
	lg, err := af.TaskLog(ctx, dagID, runID, taskID, try, opts)
	if err != nil {
		return nil, fmt.Errorf("fetch log of %s try %d: %w", taskID, try, err)
	}
	// Redact the whole text before splitting it: a secret can span lines (a
	// PEM private key), and per-line rules would let its body through.
	return &RedactedLog{
		Lines: strings.Split(strings.TrimRight(logscan.Redact(lg.Text), "\n"), "\n"),
		Bytes: lg.Bytes, Truncated: lg.Truncated, Sources: logscan.RedactLines(slices.Clone(lg.Sources)),
	}, nil
}
