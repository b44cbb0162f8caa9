package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/logscan"
)

// Tool is one read-only tool a specialist offers its model.
type Tool interface {
	// Spec describes the tool to the model; Spec().Name is its key in
	// LoopConfig.Tools.
	Spec() ToolSpec
	// Call runs the tool and must return promptly once ctx is done. Its
	// output and its error text are untrusted: Run redacts, caps and
	// delimits both before the model sees them.
	Call(ctx context.Context, args json.RawMessage) (string, error)
}

// NewTool returns a Tool from a spec and a function.
func NewTool(spec ToolSpec, call func(ctx context.Context, args json.RawMessage) (string, error)) Tool {
	return funcTool{spec: spec, call: call}
}

type funcTool struct {
	spec ToolSpec
	call func(ctx context.Context, args json.RawMessage) (string, error)
}

func (t funcTool) Spec() ToolSpec { return t.spec }

func (t funcTool) Call(ctx context.Context, args json.RawMessage) (string, error) {
	return t.call(ctx, args)
}

// Defaults of LoopConfig.
const (
	DefaultMaxSteps           = 8
	DefaultLoopTimeout        = 3 * time.Minute
	DefaultToolTimeout        = 30 * time.Second
	DefaultMaxToolOutputBytes = 16 << 10
	DefaultMaxCallsPerStep    = 8
	DefaultRepeatLimit        = 3
)

// ErrLoopTimeout is the cause recorded when a tool loop hits
// LoopConfig.Timeout.
var ErrLoopTimeout = errors.New("tool loop timed out")

// LoopConfig configures one run of the tool loop.
type LoopConfig struct {
	Client Client
	Model  string
	// System is the specialist's own instructions. Run appends its safety
	// rules and the Proposal format; System cannot remove them.
	System string
	// Tools are the tools the specialist has, by name.
	Tools map[string]Tool
	// Allowlist names the tools the model is offered and may call; each
	// must be in Tools. Any other call is refused and flagged.
	Allowlist []string
	// Data is untrusted text (log excerpts, API responses) shown with the
	// task, redacted and delimited.
	Data []Untrusted
	// MaxSteps bounds the model requests (DefaultMaxSteps when zero).
	MaxSteps int
	// Timeout bounds the whole run (DefaultLoopTimeout when zero).
	Timeout time.Duration
	// ToolTimeout bounds each tool call (DefaultToolTimeout when zero).
	ToolTimeout time.Duration
	// MaxToolOutputBytes caps what one tool call shows the model
	// (DefaultMaxToolOutputBytes when zero).
	MaxToolOutputBytes int
	// MaxCallsPerStep bounds the calls run for one step; more are refused
	// (DefaultMaxCallsPerStep when zero).
	MaxCallsPerStep int
	// RepeatLimit is how many times the same call (name and arguments) may
	// be asked for before the loop stops as looping (DefaultRepeatLimit
	// when zero; at least 2).
	RepeatLimit int
	// MaxTokens and Temperature are passed on to every request.
	MaxTokens   int
	Temperature *float64
	// Redact is applied to every text sent to the model or kept in the
	// transcript; nil means logscan.Redact. There is no way to turn it off.
	Redact func(string) string
	// Pricing gives the cost of Model, for the transcript's estimate.
	Pricing Pricing
}

// toolNameRE is what both APIs accept as a tool name.
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (cfg LoopConfig) withDefaults() (LoopConfig, error) {
	var problems []string
	if cfg.Client == nil {
		problems = append(problems, "client is required")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		problems = append(problems, "model is required")
	}
	for name, t := range cfg.Tools {
		if t == nil || t.Spec().Name != name {
			problems = append(problems, fmt.Sprintf("tool %q: its spec must carry the same name", name))
			continue
		}
		if p := t.Spec().Parameters; len(p) > 0 && !json.Valid(p) {
			problems = append(problems, fmt.Sprintf("tool %q: parameters are not valid JSON Schema JSON", name))
		}
	}
	for _, name := range cfg.Allowlist {
		if !toolNameRE.MatchString(name) {
			problems = append(problems, fmt.Sprintf("allowlisted tool %q: names are 1-64 letters, digits, _ or -", name))
		} else if _, ok := cfg.Tools[name]; !ok {
			problems = append(problems, fmt.Sprintf("allowlisted tool %q is not among the tools given", name))
		}
	}
	if cfg.MaxSteps < 0 || cfg.Timeout < 0 || cfg.ToolTimeout < 0 || cfg.MaxToolOutputBytes < 0 || cfg.MaxCallsPerStep < 0 || cfg.RepeatLimit < 0 {
		problems = append(problems, "limits must not be negative")
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("llm tool loop: %s", strings.Join(problems, "; "))
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxSteps, DefaultMaxSteps)
	def(&cfg.MaxToolOutputBytes, DefaultMaxToolOutputBytes)
	def(&cfg.MaxCallsPerStep, DefaultMaxCallsPerStep)
	def(&cfg.RepeatLimit, DefaultRepeatLimit)
	cfg.RepeatLimit = max(cfg.RepeatLimit, 2)
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultLoopTimeout
	}
	if cfg.ToolTimeout == 0 {
		cfg.ToolTimeout = DefaultToolTimeout
	}
	if cfg.Redact == nil {
		cfg.Redact = logscan.Redact
	}
	return cfg, nil
}

// loop is the state of one Run.
type loop struct {
	cfg     LoopConfig
	tr      *Transcript
	allowed map[string]bool
	// denied are tool names the model must not call, for the injection
	// detector to look for in tool output.
	denied []string
	calls  map[string]*pastCall
	// shown is every redacted text the model was shown, for checking that
	// the proposal's quotes come from it.
	shown strings.Builder
}

// pastCall is an earlier call with the same name and arguments.
type pastCall struct {
	count   int
	content string
	isError bool
}

// maxShownBytes bounds what is kept for the evidence check.
const maxShownBytes = 4 << 20

// Run runs the tool loop: it sends task (with cfg.Data) to the model, runs
// the allowlisted tools the model asks for, and repeats until the model
// answers, cfg.MaxSteps is reached, the model loops, or cfg.Timeout passes.
//
// Run returns an error only for an invalid cfg (with a nil transcript) or
// when a model request failed or ctx ended (with the transcript so far,
// whose Outcome says which). Everything the model does wrong is recorded in
// the transcript as an Outcome or a Flag instead. Run never runs a tool
// outside cfg.Allowlist, and the Proposal it returns is advice only.
func Run(ctx context.Context, cfg LoopConfig, task string) (*Transcript, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &loop{
		cfg: cfg, allowed: map[string]bool{}, calls: map[string]*pastCall{},
		tr: &Transcript{Model: cfg.Model, StartedAt: time.Now()},
	}
	for _, n := range cfg.Allowlist {
		l.allowed[n] = true
	}
	for n := range cfg.Tools {
		if !l.allowed[n] {
			l.denied = append(l.denied, n)
		}
	}
	slices.Sort(l.denied)
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, ErrLoopTimeout)
	defer cancel()
	err = l.run(ctx, task)
	l.finish(err)
	return l.tr, err
}

func (l *loop) run(ctx context.Context, task string) error {
	req := &Request{
		Model: l.cfg.Model, System: l.system(), Tools: l.specs(),
		MaxTokens: l.cfg.MaxTokens, Temperature: l.cfg.Temperature,
		Messages: []Message{{Role: RoleUser, Content: l.firstMessage(task)}},
	}
	for step := 1; step <= l.cfg.MaxSteps; step++ {
		if step == l.cfg.MaxSteps && step > 1 {
			req.Messages = append(req.Messages, Message{Role: RoleUser, Content: lastStepNote})
		}
		start := time.Now()
		resp, err := l.cfg.Client.Chat(ctx, req)
		if err != nil {
			return fmt.Errorf("step %d of %d: %w", step, l.cfg.MaxSteps, err)
		}
		st := Step{Index: step, Text: l.cfg.Redact(resp.Content), StopReason: resp.StopReason, Usage: resp.Usage}
		l.tr.Usage = l.tr.Usage.Add(resp.Usage)
		req.Messages = append(req.Messages, Message{Role: RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls})
		if len(resp.ToolCalls) == 0 {
			st.Duration = time.Since(start)
			l.tr.Steps = append(l.tr.Steps, st)
			l.answer(step, resp.Content)
			return nil
		}
		if step == l.cfg.MaxSteps {
			st.ToolCalls = l.skip(resp.ToolCalls, "step limit reached")
			st.Duration = time.Since(start)
			l.tr.Steps = append(l.tr.Steps, st)
			l.tr.Outcome = OutcomeStepLimit
			l.flag(FlagStepLimit, step, "", fmt.Sprintf("still calling tools after %d steps", step))
			return nil
		}
		results, stop := l.runCalls(ctx, step, resp.ToolCalls, &st)
		st.Duration = time.Since(start)
		l.tr.Steps = append(l.tr.Steps, st)
		if stop {
			l.tr.Outcome = OutcomeLoop
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("step %d of %d: %w", step, l.cfg.MaxSteps, context.Cause(ctx))
		}
		req.Messages = append(req.Messages, results...)
	}
	return nil // unreachable: the last step returns
}

// system is the specialist's prompt followed by the rules it cannot drop.
func (l *loop) system() string {
	tools := "none"
	if len(l.cfg.Allowlist) > 0 {
		tools = strings.Join(l.cfg.Allowlist, ", ")
	}
	rules := fmt.Sprintf(safetyRules, tools, proposalShape())
	if s := strings.TrimSpace(l.cfg.System); s != "" {
		return s + "\n\n" + rules
	}
	return rules
}

// specs are the tools offered: the allowlisted ones, in allowlist order.
func (l *loop) specs() []ToolSpec {
	var out []ToolSpec
	for _, n := range l.cfg.Allowlist {
		out = append(out, l.cfg.Tools[n].Spec())
	}
	return out
}

// firstMessage is the task, then every piece of data, redacted and
// delimited, each checked for planted instructions.
func (l *loop) firstMessage(task string) string {
	var b strings.Builder
	b.WriteString(l.cfg.Redact(task))
	if len(l.cfg.Data) == 0 {
		return b.String()
	}
	b.WriteString("\n\n" + dataPreamble + "\n")
	for _, d := range l.cfg.Data {
		text, _ := capText(l.cfg.Redact(d.Text), l.cfg.MaxToolOutputBytes)
		source := "data:" + sanitizeSource(d.Source)
		l.inspect(0, source, text)
		wrapped := wrapUntrusted(d.Source, "", text)
		b.WriteString("\n" + wrapped + "\n")
	}
	return b.String()
}

// answer records the model's final answer and parses its proposal.
func (l *loop) answer(step int, text string) {
	l.tr.FinalText = l.cfg.Redact(text)
	for _, d := range detectInjection(l.tr.FinalText, l.denied) {
		l.flag(FlagInjection, step, "final_text", d)
	}
	p, err := ParseProposal(text)
	if err != nil {
		l.tr.Outcome = OutcomeMalformedProposal
		l.tr.ProposalError = l.cfg.Redact(err.Error())
		l.flag(FlagMalformedProposal, step, "final_text", l.tr.ProposalError)
		return
	}
	p.redact(l.cfg.Redact)
	l.tr.Outcome = OutcomeProposal
	l.tr.Proposal = p
	shown := normalizeSpace(l.shown.String())
	for _, e := range p.Evidence {
		if !strings.Contains(shown, normalizeSpace(e.Quote)) {
			l.flag(FlagUngroundedEvidence, step, e.Source, "quote not in any data shown: "+truncateUTF8(e.Quote, maxDetail))
		}
	}
}

// finish sets the outcome of a run that ended in err, and the totals.
func (l *loop) finish(err error) {
	if err != nil {
		switch {
		case errors.Is(err, ErrLoopTimeout), errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			l.tr.Outcome = OutcomeTimeout
		case errors.Is(err, context.Canceled):
			l.tr.Outcome = OutcomeCanceled
		default:
			l.tr.Outcome = OutcomeModelError
		}
		l.tr.Error = l.cfg.Redact(err.Error())
	}
	if p, ok := l.cfg.Pricing[l.cfg.Model]; ok {
		l.tr.CostUSD = ptr(p.Cost(l.tr.Usage))
	}
	l.tr.Duration = time.Since(l.tr.StartedAt)
}

func (l *loop) flag(k FlagKind, step int, source, detail string) {
	l.tr.Flags = append(l.tr.Flags, Flag{Kind: k, Step: step, Source: source, Detail: detail})
}

// inspect flags planted instructions in text shown to the model and keeps
// the text for the evidence check.
func (l *loop) inspect(step int, source, text string) {
	for _, d := range detectInjection(text, l.denied) {
		l.flag(FlagInjection, step, source, d)
	}
	if l.shown.Len() < maxShownBytes {
		l.shown.WriteString(text)
		l.shown.WriteByte('\n')
	}
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
