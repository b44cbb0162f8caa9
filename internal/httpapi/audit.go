package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// auditPage is the body of GET /api/v1/audit.
type auditPage struct {
	Entries []*incident.AuditEntry `json:"entries"`
	// NextAfterID fetches the next page as after_id; 0 on the last one.
	NextAfterID int64 `json:"next_after_id"`
}

// auditParams are the query parameters GET /api/v1/audit understands.
var auditParams = []string{"incident_id", "actor", "action", "since", "until", "after_id", "limit"}

// listAudit pages through the audit log, oldest first. It takes an
// operator: entries name the people who approved and gave feedback, which a
// viewer token (a dashboard) has no need to see.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := parseAuditParams(r.URL.Query())
	if err != nil {
		return err
	}
	entries, err := s.store.AuditList(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list audit entries: %w", err)
	}
	page := auditPage{Entries: entries}
	if page.Entries == nil {
		page.Entries = []*incident.AuditEntry{}
	}
	if len(entries) == p.Limit {
		page.NextAfterID = entries[len(entries)-1].ID
	}
	s.writeJSON(w, r, http.StatusOK, page)
	return nil
}

// parseAuditParams validates the filters, naming the parameter at fault.
func parseAuditParams(q url.Values) (*store.AuditListParams, error) {
	if err := checkQuery(q, auditParams); err != nil {
		return nil, err
	}
	p := &store.AuditListParams{IncidentID: q.Get("incident_id"), Actor: q.Get("actor"), ActionPrefix: q.Get("action")}
	for name, v := range map[string]string{"incident_id": p.IncidentID, "actor": p.Actor, "action": p.ActionPrefix} {
		if len(v) > 250 {
			return nil, badParam(name, name+" is longer than 250 characters")
		}
	}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"since", &p.Since}, {"until", &p.Until}} {
		v := q.Get(tp.name)
		if v == "" {
			continue
		}
		t, err := parseTimeParam(v)
		if err != nil {
			return nil, badParam(tp.name, fmt.Sprintf("%s must be an RFC 3339 timestamp such as 2026-05-01T00:00:00Z, got %q", tp.name, clip(v, 64)))
		}
		*tp.dst = t
	}
	if v := q.Get("after_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, badParam("after_id", fmt.Sprintf("after_id must be an entry id (a whole number), got %q", clip(v, 32)))
		}
		p.AfterID = n
	}
	limit, err := limitParam(q)
	if err != nil {
		return nil, err
	}
	p.Limit = limit
	return p, nil
}

// verifyAudit checks the whole audit chain and answers the report: 200
// whether the chain is intact or not, since a broken chain is a finding,
// not a failure of the request. It reads the chain a page at a time.
func (s *server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	if len(r.URL.Query()) > 0 {
		name := slices.Sorted(maps.Keys(r.URL.Query()))[0]
		return badParam(name, fmt.Sprintf("unknown query parameter %q: verify takes none", clip(name, 64)))
	}
	var (
		v     audit.Verifier
		after int64
	)
chain:
	for {
		page, err := s.store.AuditList(r.Context(), &store.AuditListParams{AfterID: after, Limit: store.MaxListLimit})
		if err != nil {
			return fmt.Errorf("verify the audit chain after entry %d: %w", after, err)
		}
		for _, e := range page {
			ok, err := v.Add(e)
			if err != nil {
				return fmt.Errorf("verify the audit chain: %w", err)
			}
			if !ok {
				break chain // the first break is the finding; what follows cannot be judged
			}
		}
		if len(page) < store.MaxListLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	rep := v.Report()
	if !rep.Intact {
		s.log.WarnContext(r.Context(), "audit chain broken", "broken_id", rep.BrokenID, "problem", rep.Problem,
			"request_id", requestIDFrom(r.Context()))
	}
	s.writeJSON(w, r, http.StatusOK, rep)
	return nil
}
