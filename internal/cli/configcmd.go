package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/config"
)

func newConfigCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check or print medic's configuration"}
	var asJSON bool
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a configuration file (none: the built-in defaults with the MEDIC_* overrides)",
		Long: "Check a configuration file strictly, with the MEDIC_* environment overrides that medic serve would apply: " +
			"unknown keys, wrong types and invalid values are reported with their line numbers, one per line. " +
			"Without FILE it checks the built-in defaults, as medic serve without --config runs. " +
			"Exit code 0 means valid, 2 invalid.",
		Args: maxArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			_, err := config.Load(path, streams.Getenv)
			if asJSON {
				out := map[string]any{"valid": err == nil, "file": path, "problems": problems(err)}
				if jerr := json.NewEncoder(streams.Out).Encode(out); jerr != nil {
					return jerr
				}
				if err != nil {
					return withCode(ExitUsage, errors.New("configuration is invalid"))
				}
				return nil
			}
			if err != nil {
				ps := problems(err)
				for _, p := range ps {
					fmt.Fprintln(streams.Err, p)
				}
				return withCode(ExitUsage, fmt.Errorf("configuration is invalid: %d problem(s)", len(ps)))
			}
			name := path
			if name == "" {
				name = "the defaults"
			}
			_, werr := fmt.Fprintf(streams.Out, "%s: valid\n", name)
			return werr
		},
	}
	validate.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	example := &cobra.Command{
		Use:   "example",
		Short: "Print a complete, commented medic.yaml with every default",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			_, err := io.WriteString(streams.Out, config.Example())
			return err
		},
	}
	cmd.AddCommand(validate, example)
	return cmd
}

// problems lists a configuration error's problems, one message each.
func problems(err error) []string {
	out := []string{}
	if err == nil {
		return out
	}
	fes := config.Problems(err)
	if len(fes) == 0 {
		return append(out, err.Error())
	}
	for _, fe := range fes {
		out = append(out, fe.Error())
	}
	return out
}
