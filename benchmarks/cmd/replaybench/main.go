// Command replaybench measures replay against the machine's floor on a
// generated delivery tree, in one run on the same files:
//
//	go run ./benchmarks/cmd/replaybench -events 1000000
//
// It generates the tree (once; it is kept in -dir), measures the floor
// (inflate + goccy/go-json decode of whole files into the record type)
// with 1 and -workers goroutines, the events/s of each stage of a replay
// in process, then runs the replay binary end to end with 1 and -workers
// workers, with --decisions, with the check of the suggested policies and
// for one principal (--principal, a rerun for a principal with a small
// share of the events),
// recording the wall time and peak RSS of each and the time of its two
// phases as the run reports them (replaying the logs, writing the
// reports), and prints the ratios the performance targets are stated in. It measures all of them in -repeat rounds and
// keeps the fastest of each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/replay-iam/replay/benchmarks"
	"github.com/replay-iam/replay/internal/sample"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "replaybench:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replaybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	events := fs.Int("events", 1_000_000, "events in the generated tree")
	days := fs.Int("days", benchmarks.DefaultCorpusDays, "days the tree spans (more days at the same events: a longer, less dense log)")
	accounts := fs.Int("accounts", benchmarks.DefaultCorpusAccounts, "member accounts of the tree (fewer at the same events: a denser log; -accounts 1 -days 1 is a busy account's day)")
	dir := fs.String("dir", "", "folder of the tree (default: replay-bench-vVERSION-EVENTS in the temporary folder, VERSION the generator's; kept for reruns)")
	workers := fs.Int("workers", 2, "workers of the parallel measurements")
	binary := fs.String("replay", "", "replay binary to run (default: built from this module into the tree's folder)")
	repeat := fs.Int("repeat", 2, "rounds of measurements, each measuring everything once; the fastest of each measurement counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Join(os.TempDir(), fmt.Sprintf("replay-bench-v%d-%d", sample.Version, *events))
		if *days != benchmarks.DefaultCorpusDays {
			*dir += fmt.Sprintf("-%dd", *days)
		}
		if *accounts != benchmarks.DefaultCorpusAccounts {
			*dir += fmt.Sprintf("-%da", *accounts)
		}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	logf("tree: %s", *dir)
	start := time.Now()
	c, err := benchmarks.OpenCorpus(*dir, benchmarks.CorpusOptions(*events, *days, *accounts))
	if err != nil {
		return err
	}
	logf("  %d files, %d events (ready in %s)", len(c.Files), c.Events, time.Since(start).Round(time.Millisecond))
	if *binary == "" {
		*binary = filepath.Join(*dir, "replay")
		logf("building %s", *binary)
		build := exec.Command("go", "build", "-o", *binary, "github.com/replay-iam/replay/cmd/replay")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}

	rate := func(d time.Duration) float64 { return float64(c.Events) / d.Seconds() }
	// Every measurement, the floor's and the runs' alike, keeps the fastest
	// of its rounds, and each round measures them all in turn: the ratios
	// compare like with like, and a machine that slows down for a while
	// slows down the measurements of one round, not those of one kind.
	fastest := func(kept *time.Duration, d time.Duration) {
		if *kept == 0 || d < *kept {
			*kept = d
		}
	}
	type e2e struct {
		name string
		args []string
		wall time.Duration
		rss  int64 // KiB, the largest of the rounds
		// replay and reports are the phases of the fastest round.
		replay, reports time.Duration
	}
	runs := []*e2e{
		{name: fmt.Sprintf("--workers %d --verify=false", *workers), args: []string{"--workers", fmt.Sprint(*workers), "--verify=false"}},
		{name: "--workers 1 --verify=false", args: []string{"--workers", "1", "--verify=false"}},
		{name: fmt.Sprintf("--workers %d --verify=false --decisions", *workers), args: []string{"--workers", fmt.Sprint(*workers), "--verify=false", "--decisions"}},
		{name: fmt.Sprintf("--workers %d (suggestions verified)", *workers), args: []string{"--workers", fmt.Sprint(*workers)}},
		{name: fmt.Sprintf("--workers %d --verify=false --principal (one user)", *workers),
			args: []string{"--workers", fmt.Sprint(*workers), "--verify=false", "--principal", sample.BotARN(0)}},
	}
	sessions, err := benchmarks.Sessions(c)
	if err != nil {
		return err
	}
	var floor1, floorN time.Duration
	stageTimes := map[benchmarks.Stage]time.Duration{}
	for round := 1; round <= max(1, *repeat); round++ {
		logf("round %d of %d", round, max(1, *repeat))
		measure := func(name string, kept *time.Duration, fn func() error) error {
			d, err := benchmarks.Timed(fn)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fastest(kept, d)
			logf("  %-40s %10.0f events/s", name, rate(d))
			return nil
		}
		if err := measure("floor, 1 worker", &floor1, func() error { return benchmarks.Floor(c, 1) }); err != nil {
			return err
		}
		if err := measure(fmt.Sprintf("floor, %d workers", *workers), &floorN, func() error { return benchmarks.Floor(c, *workers) }); err != nil {
			return err
		}
		for _, s := range benchmarks.Stages() {
			kept := stageTimes[s]
			err := measure(fmt.Sprintf("stage %s, %d workers", s, *workers), &kept, func() error { return benchmarks.RunStage(c, *workers, s, sessions) })
			if err != nil {
				return err
			}
			stageTimes[s] = kept
		}
		for i, r := range runs {
			out := filepath.Join(*dir, fmt.Sprintf("reports-%d", i))
			if err := os.RemoveAll(out); err != nil {
				return err
			}
			args := append([]string{"run", "--logs", c.Logs, "--snapshot", c.SnapDir, "--out", out}, r.args...)
			m, err := runMeasured(*binary, args)
			if err != nil {
				return fmt.Errorf("replay %v: %w", args, err)
			}
			if r.wall == 0 || m.wall < r.wall {
				r.replay, r.reports = m.replay, m.reports
			}
			fastest(&r.wall, m.wall)
			r.rss = max(r.rss, m.rss)
			logf("  %-40s %10.0f events/s, %s (replay %s, reports %s), peak RSS %d MiB", "replay run "+r.name, rate(m.wall),
				m.wall.Round(10*time.Millisecond), m.replay.Round(10*time.Millisecond), m.reports.Round(10*time.Millisecond), m.rss>>10)
			if err := os.RemoveAll(out); err != nil {
				return err
			}
		}
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "replaybench: %d events in %d files, %d CPUs, %s\n\n", c.Events, len(c.Files), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(tw, "measurement\tevents/s\tµs/event\tpeak RSS\treplay, reports\n")
	row := func(name string, d time.Duration, rss int64, phases string) {
		r := "-"
		if rss > 0 {
			r = fmt.Sprintf("%d MiB", rss>>10)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%s\t%s\n", name, rate(d), d.Seconds()*1e6/float64(c.Events), r, phases)
	}
	row("floor, 1 worker", floor1, 0, "-")
	row(fmt.Sprintf("floor, %d workers", *workers), floorN, 0, "-")
	for _, s := range benchmarks.Stages() {
		row(fmt.Sprintf("stage %s, %d workers", s, *workers), stageTimes[s], 0, "-")
	}
	for _, r := range runs {
		row("replay run "+r.name, r.wall, r.rss, fmt.Sprintf("%s, %s", r.replay.Round(10*time.Millisecond), r.reports.Round(10*time.Millisecond)))
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "end to end / floor, %d workers:      %.2f (target >= 0.70)\n", *workers, floorN.Seconds()/runs[0].wall.Seconds())
	fmt.Fprintf(stdout, "%d workers / 1 worker, end to end:   %.2f (target >= 1.80)\n", *workers, runs[1].wall.Seconds()/runs[0].wall.Seconds())
	fmt.Fprintf(stdout, "--decisions extra time:             %+.0f%% (target <= 25%%)\n", 100*(runs[2].wall.Seconds()/runs[0].wall.Seconds()-1))
	fmt.Fprintf(stdout, "verification extra time:            %+.0f%%\n", 100*(runs[3].wall.Seconds()/runs[0].wall.Seconds()-1))
	fmt.Fprintf(stdout, "one principal's rerun / floor:      %.2f (%s)\n", floorN.Seconds()/runs[4].wall.Seconds(), sample.BotARN(0))
	var peak int64
	for _, r := range runs {
		peak = max(peak, r.rss)
	}
	fmt.Fprintf(stdout, "peak RSS of the runs:               %d MiB (target < 1024)\n", peak>>10)
	return nil
}

// measured is what runMeasured found of one run.
type measured struct {
	wall time.Duration
	rss  int64 // KiB
	// replay and reports are the phases the run reports: replaying the
	// logs, then writing the reports.
	replay, reports time.Duration
}

// runMeasured runs the binary and returns its wall time, and the peak RSS
// and the time of each phase as the run reports them in its summary (peak
// RSS: Linux's VmHWM; the rusage of a child started from this process
// would count this process's memory too).
func runMeasured(binary string, args []string) (measured, error) {
	cmd := exec.CommandContext(context.Background(), binary, args...)
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m := measured{wall: time.Since(start)}
	if err != nil {
		return m, fmt.Errorf("%w: %s", err, stderr.String())
	}
	found := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "Peak memory (RSS): "):
			mib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(line, "Peak memory (RSS): "), " MiB"), 10, 64)
			if err == nil {
				m.rss, found = mib<<10, found+1
			}
		case strings.HasPrefix(line, "Replayed "):
			// Replayed N records from F files (...) in 2.92s (N records/s).
			if _, rest, ok := strings.Cut(line, ") in "); ok {
				d, _, _ := strings.Cut(rest, " ")
				if m.replay, err = time.ParseDuration(d); err == nil {
					found++
				}
			}
		case strings.HasPrefix(line, "Reports written in "):
			d := strings.TrimSuffix(strings.TrimPrefix(line, "Reports written in "), ".")
			if m.reports, err = time.ParseDuration(d); err == nil {
				found++
			}
		}
	}
	if found != 3 {
		return m, fmt.Errorf("the run did not report its peak memory and the time of its phases: %s", stdout.String())
	}
	return m, nil
}

// limitedBuffer keeps the first and the last 4 KiB written to it, where a
// run's summary begins and ends.
type limitedBuffer struct{ head, tail []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := 4096 - len(l.head); room > 0 {
		k := min(room, len(p))
		l.head, p = append(l.head, p[:k]...), p[k:]
	}
	l.tail = append(l.tail, p...)
	if len(l.tail) > 4096 {
		l.tail = l.tail[len(l.tail)-4096:]
	}
	return n, nil
}

func (l *limitedBuffer) String() string { return string(l.head) + "\n" + string(l.tail) }
