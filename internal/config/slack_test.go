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
