package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/app"
)

func newServeCmd(streams IO) *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the medic daemon",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath, streams)
			if err != nil {
				return err
			}
			log := newLogger(cfg, streams.Err)
			ctx := cmd.Context()
			a, err := app.New(ctx, app.Options{Config: cfg, Logger: log, Stdout: streams.Out, Version: Version})
			if err != nil {
				return err
			}
			if err := a.Start(ctx); err != nil {
				_ = a.Stop(context.WithoutCancel(ctx))
				return err
			}
			fmt.Fprintf(streams.Err, "medic %s serving on http://%s (Ctrl-C to stop)\n", Version, a.Addr())
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout+5*time.Second)
			defer cancel()
			return a.Stop(sctx)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (default: built-in defaults)")
	return cmd
}
