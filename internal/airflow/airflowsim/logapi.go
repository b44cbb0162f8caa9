package airflowsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// handleLog is GET .../taskInstances/{task_id}/logs/{try}.
//
// 2.x: JSON {"content": "[('host', '...')]", "continuation_token": str}
// (content is Python's str() of a list of (host, text) tuples; a token is
// always returned, also at the end), or, when the Accept header's best match
// is text/plain, the plain text with the host on the first line. Werkzeug's
// best_match prefers text/plain for "Accept: */*"; only a missing Accept
// header or one preferring application/json gets JSON.
//
// 3.x: JSON {"content": [StructuredLogMessage...], "continuation_token":
// str|null} or application/x-ndjson with the token in the
// Airflow-Continuation-Token header; anything else is 406.
//
// log_pos counts bytes of log text for 2.x and entries for 3.x. The first
// page (no token) starts with the source header ("*** Found local files:"
// lines, or 3.x's ::group:: entries); full_content=true returns everything.
func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) {
	param := "task_try_number"
	if s.version == 3 {
		param = "try_number"
	}
	raw := r.PathValue(param)
	try, err := strconv.Atoi(raw)
	if err != nil || (s.version == 3 && try < 0) {
		e := valErr{
			Type: "int_parsing", Loc: []any{"path", param}, Input: raw,
			Msg: "Input should be a valid integer, unable to parse string as an integer",
			v1:  fmt.Sprintf("Wrong type, expected 'integer' for path parameter '%s'", param),
		}
		if err == nil {
			e = valErr{Type: "greater_than_equal", Loc: []any{"path", param}, Input: raw, Msg: "Input should be greater than or equal to 0", Ctx: map[string]any{"ge": 0}}
		}
		s.invalid(w, []valErr{e})
		return
	}
	q := newQuery(r)
	full := q.boolean("full_content", false)
	mapIndex := q.integer("map_index", -1, -1<<31)
	if len(q.errs) > 0 {
		s.invalid(w, q.errs)
		return
	}
	format := "json"
	if s.version == 3 {
		switch accept := strings.TrimSpace(r.Header.Get("Accept")); {
		case accept == "", strings.HasPrefix(accept, "*/*"), strings.HasPrefix(accept, "application/json"):
		case strings.HasPrefix(accept, "application/x-ndjson"):
			format = "ndjson"
		default:
			s.detail(w, http.StatusNotAcceptable, "Only application/json or application/x-ndjson is supported")
			return
		}
	} else if bestMatch(r.Header.Get("Accept"), []string{"text/plain", "application/json"}) == "text/plain" {
		format = "text"
	}
	var meta logMeta
	hasToken := false
	if tok := q.vals.Get("token"); tok != "" {
		m, err := s.parseLogToken(tok)
		if err != nil {
			if s.version == 3 {
				s.detail(w, http.StatusBadRequest, badSignature)
			} else {
				s.problem(w, http.StatusBadRequest, badSignature, nil, "BadRequest")
			}
			return
		}
		meta, hasToken = m, true
	}
	if full || meta.DownloadLogs {
		meta, hasToken = logMeta{}, false
		full = true
	}

	s.mu.Lock()
	dagID, runID, taskID := r.PathValue("dag_id"), r.PathValue("dag_run_id"), r.PathValue("task_id")
	run := s.findRun(dagID, runID)
	var ti *tiState
	if run != nil {
		ti = run.tis[taskID]
	}
	if ti == nil || mapIndex != -1 || (s.version == 3 && ti.try(try) == nil) {
		s.mu.Unlock()
		if s.version == 3 {
			s.detail(w, http.StatusNotFound, "TaskInstance not found")
		} else {
			s.problem(w, http.StatusNotFound, "TaskInstance not found", nil, "NotFound")
		}
		return
	}
	rec := ti.try(try)
	host := ti.hostname
	missingPath := fmt.Sprintf("/opt/airflow/logs/dag_id=%s/run_id=%s/task_id=%s/attempt=%d.log", dagID, runID, taskID, try)
	s.mu.Unlock()
	// Logs never change once written, so rendering happens unlocked.

	if s.version == 3 {
		s.writeV2Log(w, rec, format, meta, hasToken, full)
		return
	}
	var header, text string
	if rec == nil {
		header, text = "", fmt.Sprintf("*** Log file does not exist: %s\n", missingPath)
	} else {
		header = "*** Found local files:\n***   * " + rec.log.path + "\n"
		text = renderV1Text(rec.log.lines)
	}
	if format == "text" {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		writeChunked(w, host+"\n"+header+text+"\n")
		return
	}
	pos := min(meta.LogPos, len(text))
	end := len(text)
	if s.opts.LogPageBytes > 0 && !full {
		end = min(len(text), pos+s.opts.LogPageBytes)
		// Never split a UTF-8 sequence.
		for end < len(text) && end > pos && !utf8Start(text[end]) {
			end--
		}
	}
	content := text[pos:end]
	if !hasToken {
		content = header + content
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"content":            v1Content(host, content),
		"continuation_token": s.signLogToken(logMeta{EndOfLog: end == len(text), LogPos: end}),
	})
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func (s *Server) writeV2Log(w http.ResponseWriter, rec *tryRecord, format string, meta logMeta, hasToken, full bool) {
	rec.log.once.Do(func() { rec.log.v2 = v2Entries(rec.log.lines) })
	entries := rec.log.v2
	pos := min(meta.LogPos, len(entries))
	end := len(entries)
	if s.opts.LogPageBytes > 0 && !full {
		size := 0
		end = pos
		for end < len(entries) && (end == pos || size+entries[end].size <= s.opts.LogPageBytes) {
			size += entries[end].size
			end++
		}
	}
	var out []logEntry
	if !hasToken {
		out = append(out,
			logEntry{event: "::group::Log message source details", sources: []string{rec.log.path}},
			logEntry{event: "::endgroup::"})
	}
	out = append(out, entries[pos:end]...)
	var token *string
	if end < len(entries) {
		token = strp(s.signLogToken(logMeta{EndOfLog: false, LogPos: end}))
	}
	if format == "ndjson" {
		if token != nil {
			w.Header().Set("Airflow-Continuation-Token", *token)
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		var b strings.Builder
		for i, e := range out {
			line, _ := json.Marshal(e)
			b.Write(line)
			b.WriteByte('\n')
			if b.Len() > 64<<10 || i == len(out)-1 {
				_, _ = w.Write([]byte(b.String()))
				b.Reset()
				flush(w)
			}
		}
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Content           []logEntry `json:"content"`
		ContinuationToken *string    `json:"continuation_token"`
	}{out, token})
}

// writeChunked streams a large body in pieces, flushing each, as Airflow's
// streamed text/plain response does.
func writeChunked(w http.ResponseWriter, body string) {
	const chunk = 64 << 10
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := w.Write([]byte(body[:n])); err != nil {
			return
		}
		body = body[n:]
		flush(w)
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// bestMatch is werkzeug's MIMEAccept.best_match: the server type with the
// highest client quality, ties going to the more specific client range and
// then to the server's order; "" when no Accept header was sent.
func bestMatch(accept string, offers []string) string {
	type rng struct {
		typ, sub string
		q        float64
	}
	var ranges []rng
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && k == "q" {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		typ, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
		ranges = append(ranges, rng{typ, sub, q})
	}
	best, bestQ, bestSpec := "", -1.0, -1
	for _, offer := range offers {
		ot, os, _ := strings.Cut(offer, "/")
		for _, c := range ranges {
			spec := 0
			if c.typ != "*" {
				spec += 2
			}
			if c.sub != "*" {
				spec++
			}
			if c.q <= 0 || c.q < bestQ {
				continue
			}
			if c.q > bestQ || spec > bestSpec {
				if (c.typ == "*" || c.typ == ot) && (c.sub == "*" || c.sub == os) {
					best, bestQ, bestSpec = offer, c.q, spec
				}
			}
		}
	}
	return best
}
