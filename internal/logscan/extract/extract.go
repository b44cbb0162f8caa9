package extract

import "sort"

// Block kinds.
const (
	KindPython     = "python_traceback"
	KindJava       = "java_stacktrace"
	KindPostgres   = "postgres"
	KindSnowflake  = "snowflake"
	KindBigQuery   = "bigquery"
	KindDbt        = "dbt"
	KindSpark      = "spark"
	KindKubernetes = "kubernetes"
	KindAirflow    = "airflow"
	KindGeneric    = "generic"
)

// NoErrorBlock is Result.Reason when the log shows no error.
const NoErrorBlock = "no error block found"

// Bounds on the work and the result, whatever the input.
const (
	// MaxScanLines: only the last MaxScanLines lines are scanned; a task's
	// failure is at the end of its log.
	MaxScanLines = 10000
	// MaxLineBytes: each line is looked at up to this many bytes.
	MaxLineBytes = 4 << 10
	// MaxBlocks bounds Result.Blocks; the last ones are kept.
	MaxBlocks = 64
	// MaxBlockLines bounds the lines one block spans.
	MaxBlockLines = 2000
	// MaxFrames bounds Block.Frames; the frames nearest the failure are kept.
	MaxFrames = 64
	// MaxChain bounds Block.Chain; the outermost and innermost causes are
	// kept.
	MaxChain = 32
	// MaxMessage bounds a message in bytes.
	MaxMessage = 2048
)

// Result is what Extract found.
type Result struct {
	// Blocks are the error blocks in log order.
	Blocks []Block `json:"blocks"`
	// Root is the block that best explains the failure (one of Blocks), nil
	// when there is none.
	Root *Block `json:"root,omitempty"`
	// Reason says why Root is nil (NoErrorBlock); empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// Block is one error found in the log.
type Block struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// ExceptionType and Message describe the root cause within the block:
	// the original exception of a chain, the last "Caused by:".
	ExceptionType string `json:"exception_type,omitempty"`
	Message       string `json:"message"`
	// Frames are the stack frames of that exception in the order the log
	// prints them.
	Frames []Frame `json:"frames,omitempty"`
	// FirstUserFrame is the user-code frame nearest the failure, nil when
	// every frame is library code.
	FirstUserFrame *Frame `json:"first_user_frame,omitempty"`
	// Start and End are the block's lines in the input: lines[Start:End].
	Start int `json:"start"`
	End   int `json:"end"`
	// Chain lists the exceptions of a chained or wrapped error, outermost
	// first, root last; nil for a single error.
	Chain []Cause `json:"chain,omitempty"`
	// Details carry system-specific facts: sqlstate, detail, hint,
	// error_code, status, reason, exit_code, signal, model, test, …
	Details map[string]string `json:"details,omitempty"`
	// Confidence in [0, 1]: how sure extract is that this block explains
	// the failure.
	Confidence float64 `json:"confidence"`
}

// Frame is one stack frame.
type Frame struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Function string `json:"function,omitempty"`
	// User reports that the frame is user code, not a library or runtime
	// (see the package documentation for the rule).
	User bool `json:"user"`
}

// Cause is one exception in a chain.
type Cause struct {
	ExceptionType string `json:"exception_type"`
	Message       string `json:"message,omitempty"`
	// Relation says how this exception relates to the one before it in
	// Chain: "direct_cause" and "during_handling" (Python), "caused_by"
	// (Java), "wrapped" (named inside the outer one's message); empty for
	// the first.
	Relation string `json:"relation,omitempty"`
	// Line is the input line where this exception is printed.
	Line int `json:"line"`
}

// Extract finds the error blocks in lines, a log tail oldest line first, and
// picks the root cause. It never fails: a log without an error gives a
// Result with no blocks and Reason NoErrorBlock.
func Extract(lines []string) *Result {
	offset := 0
	if len(lines) > MaxScanLines {
		offset = len(lines) - MaxScanLines
		lines = lines[offset:]
	}
	s := newScan(lines)
	for _, detect := range detectors {
		detect(s)
	}
	return s.result(offset)
}

// detectors run in order; each claims the lines it explains so that later,
// looser ones do not report them again.
var detectors = []func(*scan){
	(*scan).structuredTracebacks,
	(*scan).pythonTracebacks,
	(*scan).javaTraces,
	(*scan).dbtErrors,
	(*scan).sparkLines,
	(*scan).kubernetesLines,
	(*scan).airflowLines,
	(*scan).snowflakeLines,
	(*scan).bigqueryLines,
	(*scan).postgresLines,
	(*scan).genericLines,
}

// cand is a block being built.
type cand struct {
	Block
	wrapper   bool     // reports a failure without saying what failed
	typesSeen []string // every exception type of a chain, for classify
}

type scan struct {
	lines   []pline
	claimed []bool
	blocks  []*cand
	// failAt marks lines that announce a failure about to be printed
	// ("Task failed with exception"): a traceback right after gets a bonus.
	failAt []bool
}

func newScan(raw []string) *scan {
	s := &scan{
		lines:   make([]pline, len(raw)),
		claimed: make([]bool, len(raw)),
		failAt:  make([]bool, len(raw)),
	}
	for i, r := range raw {
		s.lines[i] = prepare(r)
		s.failAt[i] = isFailureAnnouncement(s.lines[i].text)
	}
	return s
}

func (s *scan) n() int { return len(s.lines) }

func (s *scan) text(i int) string {
	if i < 0 || i >= len(s.lines) {
		return ""
	}
	return s.lines[i].text
}

// add records a block and claims its lines.
func (s *scan) add(c *cand) {
	if c.End <= c.Start {
		c.End = c.Start + 1
	}
	c.End = min(c.End, s.n(), c.Start+MaxBlockLines)
	for i := c.Start; i < c.End; i++ {
		s.claimed[i] = true
	}
	c.Message = capText(c.Message, MaxMessage)
	s.blocks = append(s.blocks, c)
}

func (s *scan) free(i int) bool { return i >= 0 && i < len(s.claimed) && !s.claimed[i] }

// result orders the blocks, picks the root and shifts line numbers back to
// the caller's input.
func (s *scan) result(offset int) *Result {
	sort.SliceStable(s.blocks, func(i, j int) bool { return s.blocks[i].Start < s.blocks[j].Start })
	if len(s.blocks) > MaxBlocks {
		s.blocks = s.blocks[len(s.blocks)-MaxBlocks:]
	}
	res := &Result{Blocks: make([]Block, 0, len(s.blocks))}
	best, bestScore := -1, -1.0
	for _, c := range s.blocks {
		b := c.Block
		b.Confidence = clamp01(b.Confidence)
		b.Confidence = float64(int(b.Confidence*100+0.5)) / 100
		b.Start += offset
		b.End += offset
		for i := range b.Chain {
			b.Chain[i].Line += offset
		}
		finishFrames(&b)
		if len(b.Details) == 0 {
			b.Details = nil
		}
		res.Blocks = append(res.Blocks, b)
		if b.Confidence >= bestScore {
			best, bestScore = len(res.Blocks)-1, b.Confidence
		}
	}
	if best < 0 {
		res.Reason = NoErrorBlock
		return res
	}
	res.Root = &res.Blocks[best]
	return res
}

func clamp01(f float64) float64 {
	switch {
	case f < 0.01:
		return 0.01
	case f > 1:
		return 1
	}
	return f
}

// detail sets a detail, creating the map.
func (c *cand) detail(k, v string) {
	if v == "" {
		return
	}
	if c.Details == nil {
		c.Details = map[string]string{}
	}
	c.Details[k] = capText(v, 512)
}

func (c *cand) has(k string) bool { _, ok := c.Details[k]; return ok }
