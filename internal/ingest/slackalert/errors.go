package slackalert

import (
	"errors"
	"fmt"
	"time"

	slackapi "github.com/slack-go/slack"
)

// TokenError is Slack refusing the bot token: revoked, invalid, or its
// account deactivated. Nothing is read until the token is replaced; it is
// not retryable by waiting alone, though the watcher keeps trying (with a
// backoff) in case the workspace restores it.
type TokenError struct {
	// Code is Slack's error: invalid_auth, token_revoked, ….
	Code string
	Err  error
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("slack token is revoked or invalid (%s): nothing is read from the alert channels until it is replaced "+
		"(set ingest.slack_alerts.token or notify.slack.token): %v", e.Code, e.Err)
}

func (e *TokenError) Unwrap() error { return e.Err }

// ChannelError is Slack refusing a channel: it does not exist, or the bot
// is not in it.
type ChannelError struct {
	Channel string
	Code    string
	Err     error
}

func (e *ChannelError) Error() string {
	hint := "check the channel id in ingest.slack_alerts.channels"
	if e.Code == "not_in_channel" || e.Code == "channel_not_found" {
		hint += "; for a private channel, or one the bot is not in, invite the bot (/invite @medic in the channel)"
	}
	return fmt.Sprintf("slack alert channel %s: %s: %s: %v", e.Channel, e.Code, hint, e.Err)
}

func (e *ChannelError) Unwrap() error { return e.Err }

// RateLimitError is Slack's 429 lasting longer than the watcher waits in
// one call; the next poll tries again.
type RateLimitError struct {
	Method     string
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("slack %s: rate limited for %s: %v", e.Method, e.RetryAfter, e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// classify turns a Slack API error into the watcher's typed errors.
func classify(method, channel string, err error) error {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired":
			return &TokenError{Code: se.Err, Err: fmt.Errorf("slack %s: %w", method, err)}
		case "channel_not_found", "not_in_channel", "is_archived":
			if channel != "" {
				return &ChannelError{Channel: channel, Code: se.Err, Err: fmt.Errorf("slack %s: %w", method, err)}
			}
		}
	}
	return fmt.Errorf("slack %s: %w", method, err)
}
