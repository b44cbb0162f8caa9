package slacktest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	slackapi "github.com/slack-go/slack"
)

// maxBody bounds a request body, as Slack does well above anything medic
// sends.
const maxBody = 1 << 20

// apiError is a Slack-level failure, answered as HTTP 200 with ok=false.
type apiError string

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	form, err := readForm(r)
	req := Request{Method: method, Form: form, Token: token(r, form), Time: s.now()}
	if b := form.Get("blocks"); b != "" {
		_ = json.Unmarshal([]byte(b), &req.Blocks) // invalid blocks are answered below
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	if s.down {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<html><body>503 Service Unavailable</body></html>")
		return
	}
	if f := s.takeFault(method); f != nil {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
			return
		}
		writeJSON(w, map[string]any{"ok": false, "error": f.slackErr})
		return
	}
	if err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	switch {
	case req.Token == "":
		writeJSON(w, map[string]any{"ok": false, "error": "not_authed"})
		return
	case req.Token != s.token:
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	var resp map[string]any
	var apiErr apiError
	switch method {
	case "auth.test":
		resp = map[string]any{
			"url": "https://medic-test.slack.com/", "team": "medic-test", "user": "medic",
			"team_id": TeamID, "user_id": UserID, "bot_id": BotID,
		}
	case "chat.postMessage":
		resp, apiErr = s.postMessage(form)
	case "chat.update":
		resp, apiErr = s.update(form)
	case "conversations.history":
		resp, apiErr = s.history(form)
	default:
		apiErr = "unknown_method"
	}
	if apiErr != "" {
		writeJSON(w, map[string]any{"ok": false, "error": string(apiErr)})
		return
	}
	resp["ok"] = true
	writeJSON(w, resp)
}

// readForm reads a call's fields from its query and its body, form-encoded
// or JSON.
func readForm(r *http.Request) (url.Values, error) {
	form := r.URL.Query()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || len(body) == 0 {
		return form, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return form, err
		}
		for k, raw := range fields {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				form.Set(k, str)
			} else {
				form.Set(k, string(raw))
			}
		}
		return form, nil
	}
	vals, err := url.ParseQuery(string(body))
	for k, v := range vals {
		form[k] = v
	}
	return form, err
}

// token is the call's token: slack-go sends it as a form field for most
// methods and as a bearer header for some.
func token(r *http.Request, form url.Values) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return form.Get("token")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) postMessage(form url.Values) (map[string]any, apiError) {
	channel := form.Get("channel")
	if channel == "" {
		return nil, "channel_not_found"
	}
	m := &Message{ThreadTS: form.Get("thread_ts"), Text: form.Get("text"), User: UserID, BotID: BotID}
	if err := setContent(m, form); err != "" {
		return nil, err
	}
	if m.Text == "" && m.Blocks == nil {
		return nil, "no_text"
	}
	if m.ThreadTS != "" && s.find(channel, m.ThreadTS) == nil {
		return nil, "thread_not_found"
	}
	m.TS = s.nextTS()
	s.insert(channel, m)
	return map[string]any{"channel": channel, "ts": m.TS, "message": wire(m, true)}, ""
}

func (s *Server) update(form url.Values) (map[string]any, apiError) {
	channel, ts := form.Get("channel"), form.Get("ts")
	if channel == "" {
		return nil, "channel_not_found"
	}
	m := s.find(channel, ts)
	if m == nil {
		return nil, "message_not_found"
	}
	next := *m
	if form.Has("text") {
		next.Text = form.Get("text")
	}
	if err := setContent(&next, form); err != "" {
		return nil, err
	}
	next.Updates++
	*m = next
	return map[string]any{"channel": channel, "ts": m.TS, "text": m.Text, "message": wire(m, true)}, ""
}

// setContent applies a call's blocks and metadata fields to m.
func setContent(m *Message, form url.Values) apiError {
	if form.Has("blocks") {
		raw := form.Get("blocks")
		var blocks []map[string]any
		if json.Unmarshal([]byte(raw), &blocks) != nil {
			return "invalid_blocks_format"
		}
		if !validBlocks(blocks) {
			return "invalid_blocks"
		}
		m.Blocks = json.RawMessage(raw)
		if len(blocks) == 0 {
			m.Blocks = nil
		}
	}
	if form.Has("metadata") {
		var md slackapi.SlackMetadata
		if json.Unmarshal([]byte(form.Get("metadata")), &md) != nil || md.EventType == "" {
			return "invalid_metadata_format"
		}
		m.Metadata = &md
	}
	return ""
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.channels[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// defaultLimit and maxLimit are conversations.history's.
const (
	defaultLimit = 100
	maxLimit     = 999
)

func (s *Server) history(form url.Values) (map[string]any, apiError) {
	channel := form.Get("channel")
	// Every channel exists, empty until posted to or seeded: use Fail for
	// channel_not_found.
	msgs := s.channels[channel]
	if channel == "" {
		return nil, "channel_not_found"
	}
	limit := defaultLimit
	if l := form.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, "invalid_limit"
		}
		if n > 0 {
			limit = min(n, maxLimit)
		}
	}
	start := 0
	if c := form.Get("cursor"); c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || err2 != nil || n < 0 {
			return nil, "invalid_cursor"
		}
		start = n
	}
	inclusive := form.Get("inclusive") == "1" || form.Get("inclusive") == "true"
	withMeta := form.Get("include_all_metadata") == "1" || form.Get("include_all_metadata") == "true"
	oldest, latest := form.Get("oldest"), form.Get("latest")
	replies := map[string][]*Message{}
	for _, m := range msgs {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			replies[m.ThreadTS] = append(replies[m.ThreadTS], m)
		}
	}
	// Newest first, parents only, within (oldest, latest).
	var match []*Message
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			continue
		}
		if oldest != "" && !after(m.TS, oldest, inclusive) {
			continue
		}
		if latest != "" && !after(latest, m.TS, inclusive) {
			continue
		}
		match = append(match, m)
	}
	start = min(start, len(match))
	end := min(start+limit, len(match))
	out := make([]map[string]any, 0, end-start)
	for _, m := range match[start:end] {
		w := wire(m, withMeta)
		if rs := replies[m.TS]; len(rs) > 0 {
			w["thread_ts"] = m.TS
			w["reply_count"] = len(rs)
			w["latest_reply"] = rs[len(rs)-1].TS
		}
		out = append(out, w)
	}
	next := ""
	if end < len(match) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return map[string]any{
		"messages": out, "has_more": next != "", "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next},
	}, ""
}

// after reports a > b, or a >= b when inclusive.
func after(a, b string, inclusive bool) bool {
	c := compareTS(a, b)
	return c > 0 || (inclusive && c == 0)
}

// wire is a message as Slack's API renders it.
func wire(m *Message, withMeta bool) map[string]any {
	w := map[string]any{"type": "message", "ts": m.TS, "text": m.Text}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if m.User != "" {
		w["user"] = m.User
	}
	if m.BotID != "" {
		w["bot_id"] = m.BotID
	}
	if m.Blocks != nil {
		w["blocks"] = m.Blocks
	}
	if len(m.Attachments) > 0 {
		w["attachments"] = m.Attachments
	}
	if m.SubType != "" {
		w["subtype"] = m.SubType
	}
	if m.Updates > 0 {
		w["edited"] = map[string]any{"user": m.User, "ts": m.TS}
	}
	if withMeta && m.Metadata != nil {
		w["metadata"] = m.Metadata
	}
	return w
}

// Slack's Block Kit limits the server enforces, so that a test catches a
// message the real Slack would reject with invalid_blocks.
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxHeaderText  = 150
	maxButtonText  = 75
	maxFieldText   = 2000
	maxFields      = 10
)

func validBlocks(blocks []map[string]any) bool {
	if len(blocks) > maxBlocks {
		return false
	}
	for _, b := range blocks {
		switch b["type"] {
		case "header":
			if textLen(b["text"]) > maxHeaderText {
				return false
			}
		case "section":
			fields, _ := b["fields"].([]any)
			if textLen(b["text"]) > maxSectionText || len(fields) > maxFields {
				return false
			}
			for _, f := range fields {
				if textLen(f) > maxFieldText {
					return false
				}
			}
		case "actions":
			els, _ := b["elements"].([]any)
			for _, e := range els {
				if em, ok := e.(map[string]any); ok && em["type"] == "button" && textLen(em["text"]) > maxButtonText {
					return false
				}
			}
		}
	}
	return true
}

// textLen is the length of a text object's text in characters, as Slack
// counts.
func textLen(obj any) int {
	m, _ := obj.(map[string]any)
	s, _ := m["text"].(string)
	return len([]rune(s))
}
