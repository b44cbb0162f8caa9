package cli

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/demo"
)

func newDemoCmd(streams IO) *cobra.Command {
	var (
		addr         string
		once, asJSON bool
		pace         time.Duration
		verbose      bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run medic against a built-in Airflow stand-in with scripted failures",
		Long: "Run medic end to end with no external service: a built-in Airflow 3 stand-in plays a scripted stream " +
			"of realistic failures; medic detects them (callbacks and poller), groups them into incidents, triages " +
			"and reports them. Data goes to medic-demo.db in the working directory (or $MEDIC_DATABASE_URL), " +
			"recreated on each run. --once plays the scenario to the end, prints a summary and exits.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && !once {
				// Interactive mode has no summary to print: the flag would
				// only silence the reports.
				return usageError{errors.New("--json needs --once: only medic demo --once ends with a summary")}
			}
			if once && !cmd.Flags().Changed("addr") {
				addr = "127.0.0.1:0"
			}
			db := streams.Getenv("MEDIC_DATABASE_URL")
			if db == "" {
				db = demo.DefaultDatabase
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: level}))
			reports := streams.Out
			if asJSON {
				reports = io.Discard
				if verbose {
					reports = streams.Err
				}
			}
			res, err := demo.Run(cmd.Context(), demo.Options{
				Addr: addr, Once: once, DatabasePath: db, Pace: pace, Reports: reports, Status: streams.Err,
				Logger: log, Version: Version,
			})
			if err != nil {
				return err
			}
			if res == nil {
				return nil
			}
			if asJSON {
				return res.WriteJSON(streams.Out)
			}
			return res.WriteTable(streams.Out)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address of medic's API (--once defaults to a free port)")
	cmd.Flags().BoolVar(&once, "once", false, "play the scenario to the end, print a summary and exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --once: end with one JSON line of figures")
	cmd.Flags().DurationVar(&pace, "pace", 2*time.Second, "pause between scripted runs (interactive mode)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log debug detail and, with --once, print incident reports to stderr")
	return cmd
}
