package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

// getPostmortem answers an incident's postmortem as a Markdown document,
// written from medic's records (redacted when stored; no model involved).
func (s *server) getPostmortem(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	missing := notFound(fmt.Sprintf("incident %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	pm, err := report.LoadPostmortem(r.Context(), s.store, id, "", s.now())
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return fmt.Errorf("postmortem of %s: %w", id, err)
	}
	var b strings.Builder
	if err := pm.WriteMarkdown(&b); err != nil {
		return fmt.Errorf("postmortem of %s: %w", id, err)
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
	return nil
}
