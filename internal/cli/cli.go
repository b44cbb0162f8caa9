// Package cli is medic's command line: one cobra command per noun or verb,
// data to stdout (JSON with --json), status and errors to stderr, and
// documented exit codes. Commands build options, call the same services the
// daemon uses (or its API), and render; they hold no domain logic and never
// call os.Exit.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/config"
)

// Exit codes.
const (
	ExitOK          = 0 // success
	ExitError       = 1 // the command failed
	ExitUsage       = 2 // bad flags or arguments, or an invalid configuration
	ExitNotFound    = 3 // the incident, session or run asked for does not exist
	ExitUnreachable = 4 // the medic server could not be reached
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = "dev"

// IO is the process's streams and environment.
type IO struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
}

// exitError carries an exit code with its cause.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// Main runs the command line and returns the exit code. Ctrl-C (SIGINT) or
// SIGTERM cancels the command's context: serve and the interactive demo,
// whose normal end that is, stop cleanly and exit 0; a command stopped before
// it finished its work says "interrupted" and exits 1.
func Main(args []string, streams IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, streams)
}

// run is Main with the context a signal cancels.
func run(ctx context.Context, args []string, streams IO) int {
	if streams.Getenv == nil {
		streams.Getenv = os.Getenv
	}
	root := NewRootCmd(streams) //nolint:contextcheck // commands get ctx from ExecuteContext, through cmd.Context()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// The chain of operations the cancellation unwound means nothing to
		// the person who pressed Ctrl-C.
		fmt.Fprintln(streams.Err, "medic: interrupted")
		return ExitError
	}
	fmt.Fprintf(streams.Err, "medic: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return ExitUsage
	}
	return ExitError
}

// usageError marks flag and argument mistakes.
type usageError struct{ error }

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// NewRootCmd builds the command tree.
func NewRootCmd(streams IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "medic",
		Short:         "An incident commander for data pipelines",
		Long:          "medic detects Airflow failures, groups them into incidents, triages them and reports them.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// "medic inc list --server X": the flag is unknown because the
		// command is; say that.
		if a := cmd.Flags().Args(); cmd.HasSubCommands() && len(a) > 0 {
			return unknownCommand(cmd, a[0])
		}
		return usageError{err}
	})
	root.AddCommand(
		newServeCmd(streams),
		newDemoCmd(streams),
		newTriageCmd(streams),
		group(newIncidentsCmd(streams)),
		group(newAuditCmd(streams)),
		group(newActionsCmd(streams)), newDecideCmd(streams, true), newDecideCmd(streams, false), group(newApprovalsCmd(streams)),
		group(newSilenceCmd(streams)),
		group(newConfigCmd(streams)),
		group(newBenchCmd(streams)),
		newCalibrateCmd(streams),
		newMCPCmd(streams),
		newPostmortemCmd(streams),
		newSourcesCmd(streams),
		newVersionCmd(streams),
	)
	return group(root)
}

// group makes cmd, which only holds subcommands, print its help when run
// alone and refuse an unknown subcommand as a usage error. Without it cobra
// fails "medic bogus" with exit 1 and answers "medic incidents bogus" with
// the help text and exit 0.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(cmd, args[0])
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return cmd
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usageError{fmt.Errorf("%s; run '%s --help' for the commands", msg, cmd.CommandPath())}
}

// loadConfig reads the configuration file (none means defaults) with the
// process environment's overrides.
func loadConfig(path string, streams IO) (*config.Config, error) {
	cfg, err := config.Load(path, streams.Getenv)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return cfg, nil
}

// newLogger builds the daemon's logger on stderr.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))}
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))}
		}
		return nil
	}
}
