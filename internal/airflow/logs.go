package airflow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// LogOptions bounds what TaskLog keeps.
type LogOptions struct {
	MaxLines int   // keep at most the last MaxLines lines; 0: no line limit
	MaxBytes int64 // keep at most the last MaxBytes bytes; 0: 1 MiB
	MapIndex *int  // the mapped task instance; nil for unmapped tasks
}

// Log is the tail of one try's log as plain text lines.
type Log struct {
	Text string // the tail, newline-joined, valid UTF-8, without source headers
	// Lines and Bytes measure the whole log as far as it was read (for 3.x,
	// entries that fell out of the tail are counted as one line and by their
	// JSON size, since they are never rendered).
	Lines     int
	Bytes     int64
	Truncated bool // Text is not the whole log (tailed, or reading stopped at the hard limit)
	// Sources are where Airflow read the log from: local paths, s3://… URIs,
	// worker URLs (2.x "*** Found …" headers, 3.x "Log message source details").
	Sources []string
}

const (
	defaultLogMaxBytes = 1 << 20
	// maxLogRead is the most read from the network for one TaskLog call; past
	// it reading stops and the log is marked truncated.
	maxLogRead = 64 << 20
	// maxEntryBytes bounds one 3.x ndjson entry.
	maxEntryBytes = 1 << 20
	// maxLogPages bounds continuation-token follow-ups. A paging handler
	// (remote logs) must be read to the end to see the tail; a running task
	// keeps handing out tokens. maxLogRead bounds the bytes either way.
	maxLogPages = 50
)

// TaskLog fetches the log of one try (try <= 0: the current try) and keeps
// its tail. The body is streamed through a bounded tail buffer, never held
// whole.
//
// On Airflow 2 it asks for text/plain: the server streams it (read_log_stream)
// and it is plain lines after a host line, so it can be tailed as it arrives.
// The JSON form is one string holding the Python repr of (host, text) tuples,
// built whole by the server; it is still handled, streamed, when a server or
// proxy answers JSON anyway. On Airflow 3 it asks for application/x-ndjson
// (text/plain is a 406 there) and renders each entry as a 2.x-style line.
//
// Continuation tokens are followed (up to 50 pages) while the server says
// the log goes on, since a paging handler has to be read to its end to reach
// the tail. Reading stops after 64 MiB, and each page is bounded by
// Options.Timeout; a log cut short either way, or by a broken connection, is
// returned with what was read and Truncated set.
func (c *Client) TaskLog(ctx context.Context, dagID, runID, taskID string, try int, opts LogOptions) (*Log, error) {
	ti := dagID + "/" + runID + "/" + taskID
	if opts.MapIndex != nil {
		ti += "[" + strconv.Itoa(*opts.MapIndex) + "]"
	}
	op := fmt.Sprintf("fetch log %s try %d", ti, try)
	major, err := c.major(ctx, op)
	if err != nil {
		return nil, err
	}
	if try <= 0 {
		cur, err := c.getTaskInstance(ctx, op, major, dagID, runID, taskID, opts.MapIndex)
		if err != nil {
			return nil, err
		}
		if try = cur.TryNumber; try < 1 {
			return nil, &APIError{
				Op: op, Instance: c.name, Status: http.StatusNotFound, Title: "task has not run yet",
				hint: "there is no log before the first try",
			}
		}
		op = fmt.Sprintf("fetch log %s try %d", ti, try)
	}
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = defaultLogMaxBytes
	}
	maxBytes = min(maxBytes, maxLogRead)
	st := &logReader{
		tail: newTailBuffer(int(maxBytes)), sources: &sourceSet{}, budget: maxLogRead, major: major,
	}
	accept := "text/plain"
	if major >= 3 {
		accept = "application/x-ndjson"
	}
	token := ""
	for page := 0; ; page++ {
		q := url.Values{}
		if opts.MapIndex != nil {
			q.Set("map_index", strconv.Itoa(*opts.MapIndex))
		}
		if token != "" {
			q.Set("token", token)
		}
		before := st.tail.total
		var next string
		err := c.do(ctx, &request{
			op: op, method: http.MethodGet, query: q, accept: accept, major: major, idempotent: true,
			rawPath: apiPath(major, "dags", dagID, "dagRuns", runID, "taskInstances", taskID, "logs", strconv.Itoa(try)),
		}, func(resp *http.Response) error {
			var err error
			next, err = st.read(resp)
			return err
		})
		if err != nil {
			if page == 0 {
				return nil, err
			}
			st.partial = true // keep what the earlier pages gave
			break
		}
		if next == "" || tokenSaysEnd(next) || st.capped || st.tail.total == before {
			break // the end, the byte limit, or a running task with nothing new
		}
		if page+1 >= maxLogPages {
			st.partial = true // the text is not the end of the log
			break
		}
		token = next
	}
	text, truncated := st.tail.finish(int(maxBytes), opts.MaxLines)
	return &Log{
		Text: text, Lines: int(st.tail.totalLines() + st.extraLines), Bytes: st.tail.total + st.extraBytes,
		Truncated: truncated || st.capped || st.partial || st.dropped, Sources: st.sources.list,
	}, nil
}

// logReader accumulates one TaskLog call across pages.
type logReader struct {
	tail    *tailBuffer
	sources *sourceSet
	budget  int64 // bytes still allowed from the network
	major   int
	capped  bool // stopped at maxLogRead
	partial bool // the connection broke mid-log, or pages were left unread
	render  *entryRenderer

	// 3.x entries dropped from the raw window before rendering.
	dropped                bool
	extraLines, extraBytes int64
}

// windowBytes is how much raw 3.x ndjson is kept for rendering: rendered
// entries are rarely larger than their JSON, so four times MaxBytes is
// enough to fill the tail.
func (st *logReader) windowBytes() int {
	return min(max(4*st.tail.max, 256<<10), maxLogRead)
}

// read consumes one response and returns its continuation token. A read error
// after some of the body was used ends the log (partial) instead of failing:
// retrying would repeat the part already kept.
func (st *logReader) read(resp *http.Response) (token string, err error) {
	lr := &io.LimitedReader{R: resp.Body, N: st.budget}
	before := st.tail.total
	defer func() {
		st.budget = lr.N
		if lr.N <= 0 {
			st.capped, err = true, nil
		}
		if err != nil && st.tail.total > before {
			st.partial, err = true, nil
		}
	}()
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case st.major < 3 && ctype == "application/json":
		return st.readReprJSON(lr)
	case st.major < 3:
		return "", st.readPlain(lr)
	case ctype == "application/json":
		return st.readEntriesJSON(lr)
	default:
		return resp.Header.Get("Airflow-Continuation-Token"), st.readNDJSON(lr)
	}
}

// readPlain reads 2.x text/plain: a host line, then the log.
func (st *logReader) readPlain(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	f := &headerFilter{tail: st.tail, sources: st.sources}
	defer func() { f.flush(); st.tail.endLine() }()
	first, err := br.ReadSlice('\n')
	if err != nil || !isHostLine(first) {
		f.Write(first)
	}
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	_, err = br.WriteTo(writerFunc(func(p []byte) (int, error) { f.Write(p); return len(p), nil }))
	return err
}

// isHostLine reports whether the first text/plain line is the worker's
// hostname that 2.x puts there (possibly empty), rather than log text.
func isHostLine(line []byte) bool {
	host := bytes.TrimSpace(line)
	return len(host) <= 255 && !bytes.ContainsAny(host, " \t*[{")
}

// reprToTail sends unwrapped 2.x tuples through the header filter.
type reprToTail struct{ f *headerFilter }

func (s reprToTail) reprHost(string)   {}
func (s reprToTail) reprText(p []byte) { s.f.Write(p) }
func (s reprToTail) reprEnd()          { s.f.flush(); s.f.tail.endLine() }

func (s reprToTail) finish(d *pyReprDecoder) {
	d.Close()
	s.f.flush()
	s.f.tail.endLine()
}

// readReprJSON reads the 2.x JSON form {"content": "<python repr>",
// "continuation_token": "…"}, decoding content as it streams.
func (st *logReader) readReprJSON(r io.Reader) (string, error) {
	sink := reprToTail{f: &headerFilter{tail: st.tail, sources: st.sources}}
	dec := newPyReprDecoder(sink)
	defer sink.finish(dec)
	var token []byte
	sc := &jsonScanner{r: bufio.NewReaderSize(r, 64<<10)}
	err := sc.object(func(key string, first byte) (bool, error) {
		switch {
		case key == "content" && first == '"':
			return true, sc.str(dec.Write)
		case key == "continuation_token" && first == '"':
			return true, sc.str(func(p []byte) {
				if len(token) < 4096 {
					token = append(token, p...)
				}
			})
		}
		return false, nil
	})
	return string(token), err
}

func (st *logReader) renderer() *entryRenderer {
	if st.render == nil {
		st.render = &entryRenderer{tail: st.tail, sources: st.sources}
	}
	return st.render
}

// tokenSaysEnd peeks into a continuation token (an itsdangerous
// URLSafeSerializer blob: base64url JSON, a dot, a signature) for
// end_of_log. Unreadable tokens (compressed, other formats) say nothing.
func tokenSaysEnd(token string) bool {
	payload, _, ok := strings.Cut(token, ".")
	if !ok || payload == "" {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return false
	}
	var meta struct {
		EndOfLog bool `json:"end_of_log"`
	}
	return json.Unmarshal(raw, &meta) == nil && meta.EndOfLog
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
