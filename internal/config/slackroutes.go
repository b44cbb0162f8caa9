package config

import (
	"fmt"
	"path"
	"strings"
)

// SlackRoute sends the messages of matching incidents to a channel. Every
// field set must match; routes are tried in order and the first that
// matches wins, before the owner's channel from the ownership rules and
// the default channel.
type SlackRoute struct {
	// Owner matches the incident's owner, a team or a person as the
	// ownership rules or Airflow name them; case-insensitive.
	Owner string `yaml:"owner"`
	// Tier matches the tier of what the failure blocks: tier1, tier2 or
	// tier3.
	Tier string `yaml:"tier"`
	// DAG matches the DAG id, with shell-style wildcards ("finance_*").
	DAG string `yaml:"dag"`
	// MinSeverity matches incidents at least this severe: low, medium,
	// high or critical.
	MinSeverity string `yaml:"min_severity"`
	// Channel is where they go: a channel id such as C0123, or a name.
	Channel string `yaml:"channel"`
}

// severityNames are the incident severities, least to most urgent, as
// configuration writes them.
var severityNames = []string{"low", "medium", "high", "critical"}

func validateSlackRoutes(v *validator, p string, minSeverity string, routes []SlackRoute) {
	if minSeverity != "" {
		v.oneOf(p+".min_severity", minSeverity, severityNames)
	}
	for i, r := range routes {
		rp := fmt.Sprintf("%s.routes[%d]", p, i)
		if strings.TrimSpace(r.Channel) == "" {
			v.add(rp+".channel", "is required: name the channel this route sends to")
		}
		if r.Tier != "" {
			v.oneOf(rp+".tier", r.Tier, []string{"tier1", "tier2", "tier3"})
		}
		if r.MinSeverity != "" {
			v.oneOf(rp+".min_severity", r.MinSeverity, severityNames)
		}
		if r.DAG != "" {
			if _, err := path.Match(r.DAG, ""); err != nil {
				v.add(rp+".dag", "is not a valid wildcard pattern: %q", r.DAG)
			}
		}
		if r.Owner == "" && r.Tier == "" && r.DAG == "" && r.MinSeverity == "" {
			v.add(rp, "matches every incident: set owner, tier, dag or min_severity, or use notify.slack.channel for the default")
		}
	}
}
