package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
)

// toolset registers the tools of one identity's SDK server.
type toolset struct {
	s   *Server
	srv *mcp.Server
	id  Identity
}

// spec describes one tool: what it is, who may call it and what it
// changes.
type spec struct {
	name, title, desc string
	// need is the least role that may call the tool.
	need config.Role
	// changes is true for the tools that create an approval; every other
	// tool only reads.
	changes bool
	// destructive marks the tools whose approved action changes Airflow.
	destructive bool
}

// annotations are the hints clients show: read-only tools are read-only
// and idempotent; the approval tools are neither read-only nor, since they
// only ever create a proposal, destructive, except the write tools, whose
// approved action is.
func (sp spec) annotations() *mcp.ToolAnnotations {
	closed := false
	return &mcp.ToolAnnotations{
		Title: sp.title, ReadOnlyHint: !sp.changes, DestructiveHint: &sp.destructive,
		IdempotentHint: true, OpenWorldHint: &closed,
	}
}

// handler is a tool's work: its checked input in, its output or a
// userError out. incidentID, when the call is about an incident, is
// recorded with its audit entry.
type handler[In, Out any] func(ctx context.Context, c *call, in In) (Out, error)

// call is one tool call as its handler sees it.
type call struct {
	id Identity
	// incidentID is the incident the call is about, for the audit trail;
	// the handler sets it once it knows.
	incidentID string
}

// add registers one tool with its audit, authorization, timeout, output
// bound and error handling around h.
func add[In, Out any](t *toolset, sp spec, h handler[In, Out]) {
	tool := &mcp.Tool{Name: sp.name, Title: sp.title, Description: sp.desc, Annotations: sp.annotations()}
	mcp.AddTool(t.srv, tool, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		c := &call{id: t.s.caller(req, t.id)}
		out, err := t.s.run(ctx, sp, c, func(ctx context.Context) (any, error) {
			if !c.id.atLeast(sp.need) {
				c.incidentID = t.s.namedIncident(ctx, req.Params.Arguments)
				return nil, refused("%s needs a token with role %s or above; token %q has role %s", sp.name, sp.need, c.id.Name, c.id.Role)
			}
			return h(ctx, c, in)
		}, req.Params.Arguments)
		if err != nil {
			return nil, zero, err
		}
		return nil, out.(Out), nil
	})
}

// namedIncident is the incident a call's arguments name, when it exists,
// so that a refused call is recorded with the incident it was about.
func (s *Server) namedIncident(ctx context.Context, args json.RawMessage) string {
	var a struct {
		IncidentID string `json:"incident_id"`
	}
	if json.Unmarshal(args, &a) != nil || checkID("incident_id", a.IncidentID, true) != nil {
		return ""
	}
	if _, err := s.deps.Store.IncidentGetByID(ctx, a.IncidentID); err != nil {
		return ""
	}
	return a.IncidentID
}

// caller is the identity of a call: the bearer token's over HTTP, else the
// session's.
func (s *Server) caller(req *mcp.CallToolRequest, session Identity) Identity {
	if req != nil && req.Extra != nil {
		if id, ok := identityOf(req.Extra.TokenInfo); ok {
			return id
		}
	}
	return session
}

// run calls fn with the call's timeout, bounds its output and audits the
// call; the error it returns is the message the client sees.
func (s *Server) run(ctx context.Context, sp spec, c *call, fn func(ctx context.Context) (any, error), args json.RawMessage) (any, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, s.limits.CallTimeout,
		fmt.Errorf("mcp tool %s took longer than %s", sp.name, s.limits.CallTimeout))
	out, err := fn(cctx)
	cancel()
	if err == nil {
		err = s.checkSize(sp.name, out)
	}
	msg, outcome := "", "ok"
	if err != nil {
		msg, outcome = s.message(ctx, sp.name, c, err)
	}
	if aerr := s.audit(ctx, sp.name, c, outcome, msg, args); aerr != nil {
		s.log.ErrorContext(ctx, "mcp tool call not audited", "tool", sp.name, "actor", c.id.Name, "error", aerr)
		return nil, errors.New("medic could not record this call in its audit log, so it withholds the answer: try again, and tell medic's operator if it persists")
	}
	if err != nil {
		return nil, errors.New(msg)
	}
	return out, nil
}

// checkSize refuses an answer larger than MaxOutputBytes: the tools bound
// their lists and logs, so this only catches what they could not.
func (s *Server) checkSize(tool string, out any) error {
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode the answer of %s: %w", tool, err)
	}
	if len(b) > s.limits.MaxOutputBytes {
		return userErrorf("the answer of %s is %d bytes, more than the %d medic returns: ask for less (a smaller limit, tail_lines or max_bytes)",
			tool, len(b), s.limits.MaxOutputBytes)
	}
	return nil
}

// Audit actions of tool calls.
const (
	auditToolCall    = "mcp.tool_call"
	auditToolRefused = "mcp.tool_refused"
)

// maxAuditArgs bounds the arguments quoted in an audit entry.
const maxAuditArgs = 2048

// audit records one call: who, which tool, with what (redacted, bounded)
// arguments, and how it ended.
func (s *Server) audit(ctx context.Context, tool string, c *call, outcome, msg string, args json.RawMessage) error {
	action := auditToolCall
	if outcome == "refused" {
		action = auditToolRefused
	}
	d := audit.Detail{
		RequestedBy: c.id.Name, Decision: outcome,
		Update: map[string]string{"tool": tool, "role": string(c.id.Role), "writes": fmt.Sprint(c.id.Writes)},
	}
	if len(args) > 0 {
		d.Update["arguments"] = clip(logscan.Redact(string(args)), maxAuditArgs)
	}
	if msg != "" {
		d.Reasons = []string{clip(msg, 1024)}
	}
	raw, err := d.JSON()
	if err != nil {
		return err
	}
	if done, ok := ctx.Value(auditedKey{}).(*bool); ok {
		*done = true
	}
	actor := c.id.Name
	if actor == "" {
		actor = "unknown"
	}
	// Cancellation of the call must not lose its record.
	_, err = s.deps.Store.AuditAppend(context.WithoutCancel(ctx), &incident.AuditEntry{
		At: s.now().UTC(), Actor: clip(actor, incident.MaxAuditActorLen), Action: action, IncidentID: c.incidentID, Detail: raw,
	})
	if err != nil {
		return fmt.Errorf("audit %s of %s: %w", action, tool, err)
	}
	return nil
}

// message turns a tool's failure into what the client is told, and the
// audit outcome: the user's own mistakes as they are, everything else as a
// message naming no internals, with a reference to the log line holding
// the cause.
func (s *Server) message(ctx context.Context, tool string, c *call, err error) (msg, outcome string) {
	var ue *userError
	if errors.As(err, &ue) {
		outcome = "error"
		if ue.refused {
			outcome = "refused"
		}
		return ue.msg, outcome
	}
	ref := reference()
	s.log.ErrorContext(ctx, "mcp tool failed", "tool", tool, "actor", c.id.Name, "ref", ref, "error", err)
	return fmt.Sprintf("%s failed inside medic (reference %s); the cause is in medic's log: try again, and give the reference to medic's operator if it persists", tool, ref), "error"
}

func reference() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// userError is a failure the caller can fix or should know of; its
// message is safe to show and says what to do.
type userError struct {
	msg     string
	refused bool
}

func (e *userError) Error() string { return e.msg }

func userErrorf(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...)}
}

// refused is a call the caller may not make: audited as refused.
func refused(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...), refused: true}
}

// refuseHidden answers a call of a write tool the identity is not offered
// with a tool error, and audits the attempt, instead of the protocol's
// bare "unknown tool": an assistant learns why and nothing runs.
func (s *Server) refuseHidden(session Identity) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			ctr, ok := req.(*mcp.CallToolRequest)
			if method != "tools/call" || !ok || ctr.Params == nil || !isWriteTool(ctr.Params.Name) {
				return next(ctx, method, req)
			}
			c := &call{id: s.caller(ctr, session)}
			if c.id.Writes && session.Writes {
				return next(ctx, method, req)
			}
			c.incidentID = s.namedIncident(ctx, ctr.Params.Arguments)
			msg := fmt.Sprintf("%s is not available: token %q is read-only for MCP. Use propose_action to ask for an action, "+
				"or ask medic's operator to set auth.tokens[].mcp_writes for this token", ctr.Params.Name, c.id.Name)
			if err := s.audit(ctx, ctr.Params.Name, c, "refused", msg, ctr.Params.Arguments); err != nil {
				s.log.ErrorContext(ctx, "mcp refusal not audited", "tool", ctr.Params.Name, "actor", c.id.Name, "error", err)
			}
			res := &mcp.CallToolResult{}
			res.SetError(errors.New(msg))
			return res, nil
		}
	}
}

// auditedKey marks, in a call's context, that the call was audited.
type auditedKey struct{}

// auditRefusals audits the calls refused before any tool ran: arguments
// that break the tool's input schema (the SDK answers those itself, as a
// tool error) and unknown tools. Every other call is audited by the tool
// it reached.
func (s *Server) auditRefusals(session Identity) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			ctr, ok := req.(*mcp.CallToolRequest)
			if method != "tools/call" || !ok || ctr.Params == nil {
				return next(ctx, method, req)
			}
			done := new(bool)
			res, err := next(context.WithValue(ctx, auditedKey{}, done), method, req)
			if *done {
				return res, err
			}
			var msg string
			switch r, isResult := res.(*mcp.CallToolResult); {
			case err != nil:
				msg = err.Error()
			case isResult && r != nil && r.IsError:
				msg = resultText(r)
			default:
				return res, err
			}
			c := &call{id: s.caller(ctr, session)}
			c.incidentID = s.namedIncident(ctx, ctr.Params.Arguments)
			if aerr := s.audit(ctx, clip(ctr.Params.Name, 100), c, "refused", msg, ctr.Params.Arguments); aerr != nil {
				s.log.ErrorContext(ctx, "mcp refusal not audited", "tool", ctr.Params.Name, "actor", c.id.Name, "error", aerr)
			}
			return res, err
		}
	}
}

// resultText is the text of a tool result.
func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// clip bounds a string quoted in a message or record.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
