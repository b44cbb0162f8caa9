package slack

import (
	"path"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
)

// Route sends the messages of matching incidents to a channel. Every field
// set must match.
type Route struct {
	// Owner matches the incident's owner, case-insensitively.
	Owner string
	// Tier matches the tier of what the failure blocks ("tier1").
	Tier string
	// DAG matches the DAG id with shell-style wildcards.
	DAG string
	// MinSeverity matches incidents at least this severe.
	MinSeverity incident.Severity
	Channel     string
}

// matches reports whether the route takes the incident.
func (rt Route) matches(r *report.Report) bool {
	inc := r.Incident
	if rt.Owner != "" && !strings.EqualFold(rt.Owner, inc.Owner) && !strings.EqualFold(rt.Owner, r.Owner()) {
		return false
	}
	if rt.Tier != "" && !strings.EqualFold(rt.Tier, tierOf(r)) {
		return false
	}
	if rt.DAG != "" {
		if ok, err := path.Match(rt.DAG, inc.DagID); err != nil || !ok {
			return false
		}
	}
	if rt.MinSeverity != "" && severityOf(r).Rank() < rt.MinSeverity.Rank() {
		return false
	}
	return true
}

func tierOf(r *report.Report) string {
	if inv := r.Investigation; inv != nil && inv.Impact != nil {
		return inv.Impact.Tier
	}
	return ""
}

// severityOf is the incident's severity, or its investigation's when that
// ranks higher.
func severityOf(r *report.Report) incident.Severity {
	s := r.Incident.Severity
	if inv := r.Investigation; inv != nil && inv.Severity.Rank() > s.Rank() {
		s = inv.Severity
	}
	return s
}

// channel is where the incident's message goes and why: the first route
// that matches, else the owner's channel from the ownership rules, else
// the default.
func (n *Notifier) channel(r *report.Report) (channel, why string) {
	for _, rt := range n.cfg.Routes {
		if rt.matches(r) {
			return rt.Channel, "route"
		}
	}
	if inv := r.Investigation; inv != nil && inv.Owner != nil && inv.Owner.Channel != "" {
		return inv.Owner.Channel, "owner"
	}
	return n.cfg.Channel, "default"
}

// held reports whether an update waits below the severity threshold: an
// incident less severe than MinSeverity gets no message, unless it is
// escalated, since then a person must act.
func (n *Notifier) held(r *report.Report, reason string) bool {
	if n.cfg.MinSeverity == "" || reason == "state:"+string(incident.StateEscalated) {
		return false
	}
	return severityOf(r).Rank() < n.cfg.MinSeverity.Rank()
}
