package llm

import (
	"context"
	"time"
)

// SetSleep replaces the wait between attempts of c, so that tests can see
// the waits without sleeping through them.
func SetSleep(c Client, f func(ctx context.Context, d time.Duration) error) {
	switch c := c.(type) {
	case *OpenAI:
		c.sleep = f
	case *Anthropic:
		c.sleep = f
	default:
		panic("llm.SetSleep: not a client of this package")
	}
}
