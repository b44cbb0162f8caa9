// Command medic is an incident commander for data pipelines.
package main

import (
	"os"

	"github.com/medic-sh/medic/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}))
}
