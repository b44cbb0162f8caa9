package investigate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/llm"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// ToolDeps are the services a model's tools read: the same ones the
// deterministic engines use. A tool whose service is missing is not
// offered. None of them can write: Airflow is only read through
// triage.Airflow, the store only listed, the memory only looked up.
type ToolDeps struct {
	Instances triage.Instances
	// Store answers failure_history.
	Store store.Store
	// Memory answers find_similar_failures.
	Memory triage.Recall
	// Owners answers owners_lookup and lineage_impact; nil means
	// Airflow's owners alone.
	Owners Owners
	// LogTailLines and LogMaxBytes bound the log read (triage's).
	LogTailLines int
	LogMaxBytes  int64
	// FrequencyLookback and RecurringThreshold are triage's.
	FrequencyLookback  time.Duration
	RecurringThreshold int
	// SimilarK is how many similar failures to list.
	SimilarK int
	Now      func() time.Time
}

// Tool defaults when ToolDeps leaves them zero.
const (
	defaultToolLogLines = 200
	defaultToolLogBytes = 256 << 10
	defaultLookback     = 7 * 24 * time.Hour
	defaultSimilarK     = 5
	maxHistoryListed    = 5
)

// errBudgetSpent is a tool call past the agent's max_steps.
var errBudgetSpent = errors.New("the tool budget is spent")

// toolRun is the tools of one model run, over one task: they read only
// the failed run the brief describes.
type toolRun struct {
	deps  ToolDeps
	t     *Task
	known *triage.Summary

	mu     sync.Mutex
	spent  int
	logs   map[string]*taskLog
	freq   map[string]*triage.Frequency
	owners *OwnersResult
}

// taskLog is one task try's redacted log tail.
type taskLog struct {
	taskID string
	try    int
	text   string
	lines  []string
	trunc  bool
}

func newToolRun(deps ToolDeps, t *Task) *toolRun {
	if deps.LogTailLines <= 0 {
		deps.LogTailLines = defaultToolLogLines
	}
	if deps.LogMaxBytes <= 0 {
		deps.LogMaxBytes = defaultToolLogBytes
	}
	if deps.FrequencyLookback <= 0 {
		deps.FrequencyLookback = defaultLookback
	}
	if deps.RecurringThreshold <= 0 {
		deps.RecurringThreshold = 2
	}
	if deps.SimilarK <= 0 {
		deps.SimilarK = defaultSimilarK
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &toolRun{deps: deps, t: t, known: triage.Decode(t.Known), logs: map[string]*taskLog{}, freq: map[string]*triage.Frequency{}}
}

// JSON Schemas of the tools' arguments.
var (
	noArgs   = json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`)
	taskArgs = json.RawMessage(`{"type":"object","properties":{` +
		`"task_id":{"type":"string","description":"a failed task of this DAG run; left out: the task the investigation is about"},` +
		`"try_number":{"type":"integer","minimum":1,"description":"left out: the failed try"}},"additionalProperties":false}`)
	taskOnlyArgs = json.RawMessage(`{"type":"object","properties":{` +
		`"task_id":{"type":"string","description":"a failed task of this DAG run; left out: the task the investigation is about"}},"additionalProperties":false}`)
)

// tool returns the llm.Tool for one allowlisted tool name; false when
// medic cannot offer it to a model (warehouse_profile: the query-profiler's
// deterministic engine reads warehouses; a tool whose service is not
// configured; one the commander's orientation has no data for).
func (k *toolRun) tool(name string) (llm.Tool, bool) {
	airflowOK := k.deps.Instances != nil && k.t.Brief.TaskID != ""
	var params json.RawMessage
	var call func(ctx context.Context, args json.RawMessage) (string, error)
	switch name {
	case agents.ToolRunSummary:
		if k.known.Run == nil {
			return nil, false
		}
		params, call = noArgs, func(context.Context, json.RawMessage) (string, error) { return jsonText(k.known.Run) }
	case agents.ToolFailedTasks:
		if k.known.Failed == nil {
			return nil, false
		}
		params, call = noArgs, func(context.Context, json.RawMessage) (string, error) { return jsonText(k.known.Failed) }
	case agents.ToolTaskLog:
		params, call = taskArgs, k.callLog
	case agents.ToolExtractErrors:
		params, call = taskArgs, k.callExtract
	case agents.ToolClassify:
		params, call = taskArgs, k.callClassify
	case agents.ToolFrequency:
		params, call = taskOnlyArgs, k.callFrequency
	case agents.ToolHistory:
		if k.deps.Store == nil {
			return nil, false
		}
		params, call = noArgs, k.callHistory
	case agents.ToolSimilar:
		if k.deps.Memory == nil {
			return nil, false
		}
		params, call = noArgs, k.callSimilar
	case agents.ToolOwners:
		params, call = noArgs, k.callOwners
	case agents.ToolLineageImpact:
		params, call = noArgs, k.callImpact
	default:
		return nil, false
	}
	if needsAirflow(name) && !airflowOK {
		return nil, false
	}
	desc := name
	if t, ok := agents.DefaultRegistry().Lookup(name); ok {
		desc = t.Description
	}
	return llm.NewTool(llm.ToolSpec{Name: name, Description: desc, Parameters: params}, call), true
}

func needsAirflow(name string) bool {
	return slices.Contains([]string{agents.ToolTaskLog, agents.ToolExtractErrors, agents.ToolClassify, agents.ToolFrequency, agents.ToolHistory, agents.ToolSimilar}, name)
}

// budgeted wraps tool so that, across all the run's tools, at most budget
// calls run; later ones fail with a message telling the model to answer.
func (k *toolRun) budgeted(tool llm.Tool, budget int) llm.Tool {
	return llm.NewTool(tool.Spec(), func(ctx context.Context, args json.RawMessage) (string, error) {
		k.mu.Lock()
		if k.spent >= budget {
			k.mu.Unlock()
			return "", fmt.Errorf("%w: %d tool call(s) ran, the most this agent may make (its max_steps); answer now with the JSON object", errBudgetSpent, budget)
		}
		k.spent++
		k.mu.Unlock()
		return tool.Call(ctx, args)
	})
}

// data is the untrusted text shown with the task: the brief, and the
// focus task's log tail when the agent may read logs.
func (k *toolRun) data(ctx context.Context) []llm.Untrusted {
	brief, err := json.MarshalIndent(k.t.Brief, "", " ")
	if err != nil {
		return nil
	}
	out := []llm.Untrusted{{Source: "brief", Text: string(brief)}}
	if !slices.Contains(k.t.Agent.Tools, agents.ToolTaskLog) || k.deps.Instances == nil || k.t.Brief.TaskID == "" {
		return out
	}
	if lg, err := k.readLog(ctx, k.t.Brief.TaskID, 0); err == nil {
		out = append(out, llm.Untrusted{Source: "task_log", Text: lg.text})
	}
	return out
}

// taskArguments are the arguments of the per-task tools.
type taskArguments struct {
	TaskID    string `json:"task_id"`
	TryNumber int    `json:"try_number"`
}

// parseTaskArgs reads and checks a per-task tool's arguments: the task must
// be the brief's, or one the run's failed tasks list, and the try at most
// its failed try. Only this run's logs can be read.
func (k *toolRun) parseTaskArgs(raw json.RawMessage) (string, int, error) {
	var a taskArguments
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return "", 0, fmt.Errorf("arguments: want {\"task_id\": string, \"try_number\": integer}, both optional: %w", err)
		}
	}
	task := cmp.Or(a.TaskID, k.t.Brief.TaskID)
	maxTry, ok := k.failedTry(task)
	if !ok {
		return "", 0, fmt.Errorf("task_id %q is not a failed task of this run; failed tasks: %s", clipText(task, 100), listOrNone(k.failedTasks()))
	}
	if a.TryNumber < 0 || a.TryNumber > maxTry {
		return "", 0, fmt.Errorf("try_number %d: %s failed on try %d; ask for 1 to %d", a.TryNumber, task, maxTry, maxTry)
	}
	return task, a.TryNumber, nil
}

func (k *toolRun) failedTasks() []string {
	out := []string{k.t.Brief.TaskID}
	for _, f := range k.t.Brief.Failed {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// failedTry is the try a failed task of the run failed on.
func (k *toolRun) failedTry(task string) (int, bool) {
	if task == k.t.Brief.TaskID {
		return max(1, k.t.Brief.TryNumber), true
	}
	if !slices.Contains(k.t.Brief.Failed, task) {
		return 0, false
	}
	if ft := k.known.Failed; ft != nil {
		for _, f := range ft.Failed {
			if f.TaskID == task {
				return max(1, f.TryNumber), true
			}
		}
	}
	return 1, true
}

// readLog reads (once) the redacted tail of a task try's log; try 0 is the
// failed try.
func (k *toolRun) readLog(ctx context.Context, task string, try int) (*taskLog, error) {
	if try == 0 {
		try, _ = k.failedTry(task)
		try = max(1, try)
	}
	key := fmt.Sprintf("%s\x00%d", task, try)
	k.mu.Lock()
	lg, ok := k.logs[key]
	k.mu.Unlock()
	if ok {
		return lg, nil
	}
	af, ok := k.deps.Instances.Instance(k.t.Brief.Instance)
	if !ok {
		return nil, fmt.Errorf("airflow instance %q is not configured", k.t.Brief.Instance)
	}
	// The log-analyzer's own reader: redacted as one text, then split.
	raw, err := triage.ReadLog(ctx, af, k.t.Brief.DagID, k.t.Brief.RunID, task, try, airflow.LogOptions{MaxLines: k.deps.LogTailLines, MaxBytes: k.deps.LogMaxBytes})
	if err != nil {
		return nil, err
	}
	lg = &taskLog{taskID: task, try: try, text: strings.Join(raw.Lines, "\n"), lines: raw.Lines, trunc: raw.Truncated}
	k.mu.Lock()
	k.logs[key] = lg
	k.mu.Unlock()
	return lg, nil
}

func (k *toolRun) callLog(ctx context.Context, args json.RawMessage) (string, error) {
	task, try, err := k.parseTaskArgs(args)
	if err != nil {
		return "", err
	}
	lg, err := k.readLog(ctx, task, try)
	if err != nil {
		return "", err
	}
	head := fmt.Sprintf("log of %s try %d, last %d line(s)", lg.taskID, lg.try, len(lg.lines))
	if lg.trunc {
		head += " of a longer log"
	}
	return head + ":\n" + lg.text, nil
}

// extracted is extract_errors' answer.
type extracted struct {
	TaskID    string         `json:"task_id"`
	TryNumber int            `json:"try_number"`
	Found     bool           `json:"found"`
	Root      *extract.Block `json:"root,omitempty"`
	// Line is the 1-based line of the log tail the error block starts on.
	Line int `json:"line,omitempty"`
}

func (k *toolRun) callExtract(ctx context.Context, args json.RawMessage) (string, error) {
	task, try, err := k.parseTaskArgs(args)
	if err != nil {
		return "", err
	}
	lg, err := k.readLog(ctx, task, try)
	if err != nil {
		return "", err
	}
	out := extracted{TaskID: lg.taskID, TryNumber: lg.try}
	if root := extract.Extract(lg.lines).Root; root != nil {
		b := *root
		b.Frames = nil // the first user frame says where; the model reads the log for the rest
		out.Found, out.Root, out.Line = true, &b, root.Start+1
	}
	return jsonText(out)
}

func (k *toolRun) callClassify(ctx context.Context, args json.RawMessage) (string, error) {
	task, try, err := k.parseTaskArgs(args)
	if err != nil {
		return "", err
	}
	lg, err := k.readLog(ctx, task, try)
	if err != nil {
		return "", err
	}
	sig := classify.Signals{TryNumber: lg.try}
	if ft := k.known.Failed; ft != nil {
		for _, f := range ft.Failed {
			if f.TaskID == task {
				sig.Operator, sig.State = f.Operator, f.State
				if f.DurationSec != nil && *f.DurationSec > 0 {
					sig.Duration = time.Duration(*f.DurationSec * float64(time.Second))
				}
			}
		}
	}
	k.mu.Lock()
	if fq := k.freq[task]; fq != nil {
		sig.FailedRuns = fq.FailedRuns
	}
	k.mu.Unlock()
	// Evidence lines are 1-based, as the log tail's lines are numbered.
	return jsonText(triage.Diagnose(lg.lines, nil, sig))
}

func (k *toolRun) callFrequency(ctx context.Context, args json.RawMessage) (string, error) {
	task, _, err := k.parseTaskArgs(args)
	if err != nil {
		return "", err
	}
	af, ok := k.deps.Instances.Instance(k.t.Brief.Instance)
	if !ok {
		return "", fmt.Errorf("airflow instance %q is not configured", k.t.Brief.Instance)
	}
	fq, err := triage.CountFailures(ctx, af, triage.FrequencyQuery{
		DagID: k.t.Brief.DagID, TaskID: task, RunID: k.t.Brief.RunID,
		Since: k.deps.Now().Add(-k.deps.FrequencyLookback), Lookback: k.deps.FrequencyLookback,
		RecurringThreshold: k.deps.RecurringThreshold,
	})
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	k.freq[task] = fq
	k.mu.Unlock()
	return jsonText(fq)
}

// focusSignature is the focus task's failure signature, from its log.
func (k *toolRun) focusSignature(ctx context.Context) (*signature.Signature, *extract.Block, error) {
	lg, err := k.readLog(ctx, k.t.Brief.TaskID, 0)
	if err != nil {
		return nil, nil, err
	}
	root := extract.Extract(lg.lines).Root
	if root == nil {
		return nil, nil, nil
	}
	sig := signature.Of(root)
	return &sig, root, nil
}

func (k *toolRun) callHistory(ctx context.Context, _ json.RawMessage) (string, error) {
	sig, _, err := k.focusSignature(ctx)
	if err != nil {
		return "", err
	}
	if sig == nil || sig.Generic {
		return "no failure signature to look up: the log has no specific error block", nil
	}
	page, err := k.deps.Store.IncidentList(ctx, &store.IncidentListParams{Signature: sig.ID, Limit: maxHistoryListed + 1})
	if err != nil {
		return "", fmt.Errorf("list incidents with signature %s: %w", sig.ID, err)
	}
	h := triage.History{Signature: sig.ID}
	for _, in := range page.Incidents {
		if k.t.Incident != nil && in.ID == k.t.Incident.ID {
			continue
		}
		h.Total++
		if len(h.Previous) < maxHistoryListed {
			h.Previous = append(h.Previous, triage.PastIncident{
				ID: in.ID, DagID: in.DagID, RunID: in.RunID, State: string(in.State), Summary: in.Summary, CreatedAt: in.CreatedAt,
			})
		}
	}
	return jsonText(h)
}

// similarFailure is one past failure as find_similar_failures shows it.
type similarFailure struct {
	ID      string         `json:"id"`
	Label   string         `json:"label"`
	Excerpt string         `json:"excerpt"`
	Action  string         `json:"action,omitempty"`
	Outcome memory.Outcome `json:"outcome,omitempty"`
	Trust   float64        `json:"trust"`
	// Score is the cosine similarity; 1 for the same signature.
	Score float32 `json:"score"`
}

func (k *toolRun) callSimilar(ctx context.Context, _ json.RawMessage) (string, error) {
	sig, root, err := k.focusSignature(ctx)
	if err != nil {
		return "", err
	}
	if sig == nil {
		return "no failure signature to look up: the log has no error block", nil
	}
	q := memory.Query{Signature: sig.ID, Template: sig.Template, ExceptionType: root.ExceptionType}
	if sig.Generic {
		q.Signature = "" // shared by unrelated failures: similarity only
	}
	res, err := k.deps.Memory.Lookup(ctx, q, k.deps.SimilarK)
	if err != nil {
		return "", fmt.Errorf("look up similar failures: %w", err)
	}
	out := []similarFailure{}
	for _, r := range res.Exact {
		out = append(out, similarOf(r, 1))
	}
	for _, m := range res.Similar {
		out = append(out, similarOf(m.Record, m.Score))
	}
	return jsonText(out)
}

func similarOf(r *memory.Record, score float32) similarFailure {
	return similarFailure{
		ID: r.ID, Label: r.Label, Excerpt: clipText(r.Excerpt, 300), Action: r.Action, Outcome: r.Outcome, Trust: r.Trust, Score: score,
	}
}

// resolveOwners asks Owners (once) about the failed task, as the
// owner-notifier does.
func (k *toolRun) resolveOwners(ctx context.Context) (*OwnersResult, error) {
	k.mu.Lock()
	got := k.owners
	k.mu.Unlock()
	if got != nil {
		return got, nil
	}
	b := k.t.Brief
	in := OwnersInput{
		Instance: b.Instance, DagID: b.DagID, TaskID: b.TaskID, RunID: b.RunID, DagOwners: b.DagOwners, Tags: b.Tags,
		TaskOwner: b.TaskOwner, Downstream: b.Downstream, Blocked: b.Blocked, ErrorText: ownersErrorText(k.t),
	}
	var err error
	if k.deps.Owners != nil {
		got, err = k.deps.Owners.Resolve(ctx, in)
	}
	if err != nil || got == nil || got.Owner.Name == "" {
		fallback, _ := AirflowOwners{}.Resolve(ctx, in)
		if got == nil {
			got = fallback
		} else {
			got.Owner, got.Notify = fallback.Owner, fallback.Notify
		}
	}
	k.mu.Lock()
	k.owners = got
	k.mu.Unlock()
	return got, nil
}

func (k *toolRun) callOwners(ctx context.Context, _ json.RawMessage) (string, error) {
	got, err := k.resolveOwners(ctx)
	if err != nil {
		return "", err
	}
	return jsonText(map[string]any{"owner": got.Owner, "notify": got.Notify, "notes": got.Notes})
}

func (k *toolRun) callImpact(ctx context.Context, _ json.RawMessage) (string, error) {
	got, err := k.resolveOwners(ctx)
	if err != nil {
		return "", err
	}
	return jsonText(got.Impact)
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode tool output: %w", err)
	}
	return string(b), nil
}
