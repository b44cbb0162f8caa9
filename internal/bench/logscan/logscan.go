// Package logscanbench measures medic's log pipeline on a generated
// Airflow-style log: every line is read, split, redacted and fed to the
// tail, and the kept tail goes through error-block extraction, the way a
// failed task's log is handled. It reports throughput and how many of the
// secrets planted in the log survived redaction.
//
// It generates its input itself and never reads real logs, the network or
// the shared corpus; nothing it measures leaves the process except the
// figures.
package logscanbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
)

// Defaults and the throughput target.
const (
	DefaultSize      = 100 << 20
	DefaultTailLines = 200
	DefaultTailBytes = 256 << 10
	// TargetMBPerSec is the throughput the pipeline should reach on one
	// core.
	TargetMBPerSec = 100
	// batchLines is how many lines are redacted together. Batches are cut
	// only where a log record starts, so a secret spanning lines (a PEM
	// block, a wrapped token) is redacted as a whole.
	batchLines = 4096
)

// Options configure a run.
type Options struct {
	Size      int64 // bytes of log to generate; 0: DefaultSize
	Seed      int64 // the same seed generates the same log
	TailLines int   // lines the tail keeps; 0: DefaultTailLines
	TailBytes int64 // bytes the tail keeps; 0: DefaultTailBytes
}

// Result holds the figures of a run. Seconds are CPU-bound stage times of
// the one goroutine that runs the pipeline; generating the log and checking
// the redacted output for planted secrets are not counted.
type Result struct {
	Seed           int64   `json:"seed"`
	Bytes          int64   `json:"bytes"`
	Lines          int64   `json:"lines"`
	SplitSeconds   float64 `json:"split_seconds"`
	RedactSeconds  float64 `json:"redact_seconds"`
	TailSeconds    float64 `json:"tail_seconds"`
	ExtractSeconds float64 `json:"extract_seconds"`
	Seconds        float64 `json:"seconds"`
	MBPerSec       float64 `json:"mb_per_sec"`
	LinesPerSec    float64 `json:"lines_per_sec"`
	TargetMBPerSec float64 `json:"target_mb_per_sec"`
	GOMAXPROCS     int     `json:"gomaxprocs"`

	SecretsPlanted int `json:"secrets_planted"`
	SecretsMissed  int `json:"secrets_missed"`
	// Missed shows each missed secret by its first four bytes and length
	// (never whole), up to 20.
	Missed []string `json:"missed,omitempty"`

	TailLinesKept int     `json:"tail_lines_kept"`
	TailTruncated bool    `json:"tail_truncated"`
	Blocks        int     `json:"blocks"`
	RootKind      string  `json:"root_kind,omitempty"`
	RootException string  `json:"root_exception,omitempty"`
	RootReason    string  `json:"root_reason,omitempty"`
	Confidence    float64 `json:"root_confidence,omitempty"`

	// Pass: the target throughput was reached and no secret was missed.
	Pass bool `json:"pass"`
}

// failureEpilogue ends the generated log the way a failed task's log ends,
// so that extraction has a real block to find in the tail.
const failureEpilogue = `[2026-05-01, 23:59:58 UTC] {taskinstance.py:2905} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/home/airflow/.local/lib/python3.11/site-packages/airflow/providers/common/sql/hooks/sql.py", line 450, in _run_command
    cur.execute(sql_statement)
psycopg2.errors.UndefinedTable: relation "staging.orders_raw" does not exist
LINE 1: INSERT INTO mart.orders SELECT * FROM staging.orders_raw
                                              ^

[2026-05-01, 23:59:58 UTC] {taskinstance.py:1206} INFO - Marking task as FAILED. dag_id=orders, task_id=load, run_id=scheduled__2026-05-01T00:00:00+00:00
[2026-05-01, 23:59:59 UTC] {local_task_job_runner.py:240} INFO - Task exited with return code 1
`

// Run generates the log and measures the pipeline over it.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.TailLines <= 0 {
		opts.TailLines = DefaultTailLines
	}
	if opts.TailBytes <= 0 {
		opts.TailBytes = DefaultTailBytes
	}
	var buf bytes.Buffer
	buf.Grow(int(opts.Size) + 64<<10)
	planted, err := logscan.GenerateLog(&buf, opts.Size-int64(len(failureEpilogue)), opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("bench logscan: %w", err)
	}
	buf.WriteString(failureEpilogue)

	res := &Result{
		Seed: opts.Seed, Bytes: int64(buf.Len()), SecretsPlanted: len(planted),
		TargetMBPerSec: TargetMBPerSec, GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	p := &pipeline{
		tail:   logscan.NewTailer(logscan.TailOptions{MaxLines: opts.TailLines, MaxBytes: opts.TailBytes}),
		search: newSecretSearch(planted),
		res:    res,
	}
	if err := p.run(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		return nil, err
	}
	p.finish()
	return res, nil
}

// pipeline is one streaming pass: read → split → redact → tail.
type pipeline struct {
	tail   *logscan.Tailer
	search *secretSearch
	res    *Result
	split  time.Duration
	redact time.Duration
	tailed time.Duration
}

func (p *pipeline) run(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	batch := make([]string, 0, batchLines+64)
	var long []byte // a line longer than the reader's buffer
	start := time.Now()
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if len(long) > 0 {
			chunk, long = append(long, chunk...), long[:0]
		}
		if len(chunk) > 0 {
			line := string(bytes.TrimSuffix(chunk, []byte{'\n'}))
			if len(batch) >= batchLines && startsRecord(line) {
				p.split += time.Since(start)
				if err := p.flush(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
				start = time.Now()
			}
			batch = append(batch, line)
		}
		if err != nil {
			p.split += time.Since(start)
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("bench logscan: read log: %w", err)
			}
			return p.flush(ctx, batch)
		}
	}
}

// flush redacts a batch, feeds it to the tail, then (untimed) looks for
// planted secrets in the redacted text.
func (p *pipeline) flush(ctx context.Context, batch []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench logscan: %w", err)
	}
	t0 := time.Now()
	logscan.RedactLines(batch)
	t1 := time.Now()
	for _, l := range batch {
		p.tail.WriteLine(l)
	}
	t2 := time.Now()
	p.redact += t1.Sub(t0)
	p.tailed += t2.Sub(t1)
	p.res.Lines += int64(len(batch))
	for _, l := range batch {
		p.search.scan(l)
	}
	return nil
}

func (p *pipeline) finish() {
	res := p.res
	t0 := time.Now()
	tail := p.tail.Result()
	t1 := time.Now()
	ex := extract.Extract(tail.Lines)
	t2 := time.Now()
	p.tailed += t1.Sub(t0)

	res.SplitSeconds = p.split.Seconds()
	res.RedactSeconds = p.redact.Seconds()
	res.TailSeconds = p.tailed.Seconds()
	res.ExtractSeconds = t2.Sub(t1).Seconds()
	res.Seconds = res.SplitSeconds + res.RedactSeconds + res.TailSeconds + res.ExtractSeconds
	if res.Seconds > 0 {
		res.MBPerSec = float64(res.Bytes) / 1e6 / res.Seconds
		res.LinesPerSec = float64(res.Lines) / res.Seconds
	}
	res.SecretsMissed, res.Missed = p.search.missed()
	res.TailLinesKept, res.TailTruncated = len(tail.Lines), tail.Truncated
	res.Blocks = len(ex.Blocks)
	if ex.Root != nil {
		res.RootKind, res.RootException, res.Confidence = ex.Root.Kind, ex.Root.ExceptionType, ex.Root.Confidence
	} else {
		res.RootReason = ex.Reason
	}
	res.Pass = res.MBPerSec >= TargetMBPerSec && res.SecretsMissed == 0
}

// startsRecord reports a line that begins a new Airflow log record
// ("[2026-05-01, …"): a safe place to cut a redaction batch.
func startsRecord(line string) bool {
	return len(line) > 2 && line[0] == '[' && line[1] >= '0' && line[1] <= '9'
}
