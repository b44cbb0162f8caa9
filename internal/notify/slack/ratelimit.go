package slack

import (
	"context"
	"errors"
	"log/slog"
	"time"

	slackapi "github.com/slack-go/slack"
)

// WaitOutRateLimit runs fn until Slack answers it with something other
// than its rate limit, waiting out each Retry-After (a second at least)
// while the waits add up to no more than maxWait. When the limit outlasts
// maxWait it returns Slack's *slackapi.RateLimitedError with the wait Slack
// asked for; when ctx ends during a wait, ctx's error; else fn's own
// result. logArgs are added to the line logged for each wait.
func WaitOutRateLimit(ctx context.Context, log *slog.Logger, maxWait time.Duration, fn func(context.Context) error, logArgs ...any) (retryAfter time.Duration, err error) {
	waited := time.Duration(0)
	for {
		err := fn(ctx)
		var rl *slackapi.RateLimitedError
		if !errors.As(err, &rl) {
			return 0, err
		}
		wait := max(rl.RetryAfter, time.Second)
		if waited+wait > maxWait {
			return wait, err
		}
		log.InfoContext(ctx, "slack rate limit; waiting", append(logArgs, "retry_after", wait)...)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		waited += wait
	}
}
