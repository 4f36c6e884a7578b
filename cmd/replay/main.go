// Command replay replays CloudTrail records through an IAM policy evaluator
// and reports what each principal used, what was denied and why, which
// permissions went unused, and a least-privilege policy for each principal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command failed, or (check) a case failed
	exitUsage   = 2 // bad command line
	// exitIncomplete (run --strict): the reports were written, but some
	// input could not be read or replayed; manifest.json lists it.
	exitIncomplete = 3
)

// errUsage marks command-line mistakes; the command's usage has been printed.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "replay CloudTrail logs against an IAM snapshot and write the reports", runRun},
		{"demo", "generate a sample estate and its logs, and replay them", runDemo},
		{"check", "run authorization test cases and compare with their expected answers", runCheck},
		{"explain", "evaluate one case and print the trace of every policy statement", runExplain},
		{"version", "print the version", runVersion},
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			return exitUsage
		case errors.Is(err, errFailed):
			return exitFailure
		case errors.Is(err, errIncomplete):
			return exitIncomplete
		}
		fmt.Fprintf(stderr, "replay %s: %v\n", c.name, err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "replay: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// errIncomplete reports a run whose reports were written although some
// input was not read or not replayed; the details were already printed.
var errIncomplete = errors.New("incomplete input")

// errFailed reports a failure whose details were already printed.
var errFailed = errors.New("failed")

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: replay <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'replay <command> --help' for a command's flags.")
}

// newFlagSet builds a flag set that prints its usage on stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("replay "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: replay %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "replay", version)
	return nil
}
