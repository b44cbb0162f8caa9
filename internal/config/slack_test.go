package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSlackValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		path string // "" means valid
	}{
		{"off by default", "", ""},
		{"enabled", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C0123}\n", ""},
		{"no token", "notify:\n  slack: {enabled: true, channel: C0123}\n", "notify.slack.token"},
		{"no channel", "notify:\n  slack: {enabled: true, token: xoxb-0123456789}\n", "notify.slack.channel"},
		{"bad api url", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, api_url: 'slack.com/api'}\n", "notify.slack.api_url"},
		{"bad mention", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, mentions: {data-eng: '@data-eng'}}\n", "notify.slack.mentions.data-eng"},
		{"routes", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, min_severity: medium, routes: [{tier: tier1, channel: C2}, {owner: finance, min_severity: high, channel: C3}, {dag: 'mkt_*', channel: C4}]}\n", ""},
		{"bad min severity", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, min_severity: urgent}\n", "notify.slack.min_severity"},
		{"route without channel", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, routes: [{tier: tier1}]}\n", "notify.slack.routes[0].channel"},
		{"route bad tier", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, routes: [{tier: gold, channel: C2}]}\n", "notify.slack.routes[0].tier"},
		{"route bad severity", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, routes: [{min_severity: sev1, channel: C2}]}\n", "notify.slack.routes[0].min_severity"},
		{"route bad dag pattern", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, routes: [{dag: 'etl_[', channel: C2}]}\n", "notify.slack.routes[0].dag"},
		{"route matching everything", "notify:\n  slack: {enabled: true, token: xoxb-0123456789, channel: C1, routes: [{channel: C2}]}\n", "notify.slack.routes[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.yaml), "medic.yaml")
			require.NoError(t, err)
			err = c.Validate()
			if tt.path == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			require.NotNil(t, requireFieldError(t, err, tt.path))
		})
	}
}
