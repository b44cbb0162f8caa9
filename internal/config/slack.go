package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Slack posts one living message per incident (docs/notify.md).
type Slack struct {
	Enabled bool `yaml:"enabled"`
	// Token is the bot token (xoxb-...): chat:write, and channels:history
	// to find a message posted before a crash.
	Token Secret `yaml:"token"`
	// Channel is the default channel (an id such as C0123, or a name);
	// an owner's channel from the ownership rules wins.
	Channel string `yaml:"channel"`
	// APIURL is Slack's Web API root; change it only for a proxy or a
	// test Slack.
	APIURL string `yaml:"api_url"`
	// Mentions maps an owner (a team or person, as ownership names them)
	// to a Slack mention such as "<!subteam^S0123>" or "<@U0123>".
	Mentions map[string]string `yaml:"mentions"`
	// SigningSecret is the Slack app's signing secret; with it medic
	// serves POST /api/v1/slack/interactions for the Approve and Reject
	// buttons.
	SigningSecret Secret `yaml:"signing_secret"`
	// Approvers are the Slack user ids (U0123...) whose clicks decide
	// approvals; a click from anyone else is refused and audited.
	Approvers []string `yaml:"approvers"`
	// Routes send matching incidents to their own channels, first match
	// first; see SlackRoute.
	Routes []SlackRoute `yaml:"routes"`
	// MinSeverity holds back the messages of less severe incidents (they
	// are still recorded and worked on, and shown on the dashboard); an
	// escalation is always posted. "" posts every incident.
	MinSeverity string `yaml:"min_severity"`
}

// DefaultSlackAPIURL is Slack's Web API root.
const DefaultSlackAPIURL = "https://slack.com/api/"

func (s Slack) validate(v *validator) {
	const p = "notify.slack"
	if !s.Enabled {
		return
	}
	if !s.Token.IsSet() {
		v.add(p+".token", "is required when notify.slack.enabled is true")
	}
	if strings.TrimSpace(s.Channel) == "" {
		v.add(p+".channel", "is required when notify.slack.enabled is true")
	}
	if u, err := url.Parse(s.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.add(p+".api_url", "want an absolute http:// or https:// URL, got %q", s.APIURL)
	}
	if s.SigningSecret.IsSet() && len(s.Approvers) == 0 {
		v.add(p+".approvers", "is empty: with notify.slack.signing_secret set, name the Slack user ids who may approve")
	}
	for i, id := range s.Approvers {
		if !strings.HasPrefix(id, "U") && !strings.HasPrefix(id, "W") {
			v.add(fmt.Sprintf("%s.approvers[%d]", p, i), "want a Slack user id such as U0123ABC, got %q", id)
		}
	}
	validateSlackRoutes(v, p, s.MinSeverity, s.Routes)
	for owner, m := range s.Mentions {
		if !strings.HasPrefix(m, "<") || !strings.HasSuffix(m, ">") {
			v.add(p+".mentions."+owner, `want a Slack mention such as "<!subteam^S0123>" or "<@U0123>", got %q`, m)
		}
	}
}
