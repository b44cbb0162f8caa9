package cli

import "context"

// MainContext is Main with a context the test cancels in place of a signal.
func MainContext(ctx context.Context, args []string, streams IO) int {
	return run(ctx, args, streams)
}
