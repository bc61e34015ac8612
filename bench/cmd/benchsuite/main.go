// Command benchsuite runs every workload of sqlpool's benchmark suite, with
// its peers side by side, and writes docs/benchmarks.md and the chart the
// README embeds, docs/benchmarks.svg. From the repository's root:
//
//	scripts/benchsuite          # about 10 minutes on 2 cores
//
// It needs PostgreSQL at 127.0.0.1:5432 (or SQLPOOL_BENCH_POSTGRES, a URL)
// and, for the restart workload, PostgreSQL's server binaries to start a
// throwaway instance. Run it on an otherwise idle machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/bench"
)

func main() {
	out := flag.String("out", "../docs", "directory to write benchmarks.md and benchmarks.svg into")
	instructions := flag.Bool("instructions", true, "count workload 1's instructions per query with valgrind (about 3 minutes; skipped with -quick)")
	quick := flag.Bool("quick", false, "a smoke run of a few seconds: proves the workloads run, measures nothing worth reading")
	only := flag.String("only", "", "comma-separated workloads to run (1,2,3,4,5,6,pool); all when empty")
	flag.StringVar(&revision, "rev", revision, "the commit measured, for the report")
	flag.Parse()
	if err := run(*out, *quick, *only, *instructions && !*quick); err != nil {
		log.Fatal(err)
	}
}

func run(out string, quick bool, only string, instructions bool) error {
	ctx := context.Background()
	start := time.Now()
	s := &bench.Suite{Quick: quick}
	s.Defaults()
	want := func(w string) bool {
		return only == "" || strings.Contains(","+only+",", ","+w+",")
	}
	if instructions && want("1") {
		ic, err := bench.NewInstructionCounter(".")
		if err != nil {
			return fmt.Errorf("%w (or run with -instructions=false)", err)
		}
		defer ic.Close()
		s.Instructions = ic
	}
	admin, err := bench.OpenAdmin(ctx, s.PostgresURL)
	if err != nil {
		return fmt.Errorf("%w (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or set SQLPOOL_BENCH_POSTGRES)", err)
	}
	defer admin.Close()

	var secs []bench.Section
	step := func(w string, f func() (bench.Section, error)) error {
		if !want(w) {
			return nil
		}
		log.Printf("workload %s", w)
		sec, err := f()
		if err != nil {
			return fmt.Errorf("workload %s: %w", w, err)
		}
		secs = append(secs, sec)
		return nil
	}
	steps := []struct {
		w string
		f func() (bench.Section, error)
	}{
		{"1", s.Overhead},
		{"2", func() (bench.Section, error) { return s.Throughput(ctx) }},
		{"3", func() (bench.Section, error) { return s.ConnectionPerRequest(ctx, admin) }},
		{"4", func() (bench.Section, error) { return s.Overload(ctx) }},
		{"5", func() (bench.Section, error) { return s.Recovery(ctx, admin) }},
		{"6", s.Tracing},
		{"pool", func() (bench.Section, error) { return s.Pools(), nil }},
	}
	for _, st := range steps {
		if err := step(st.w, st.f); err != nil {
			return err
		}
	}

	cmd := "scripts/benchsuite"
	if quick {
		cmd += " -quick"
	}
	if only != "" {
		cmd += " -only " + only
	}
	h := bench.Header{
		Command:  cmd,
		Date:     time.Now(),
		Machine:  bench.Machine(),
		Versions: bench.Versions(ctx, admin, revision),
		Took:     time.Since(start),
		Settings: s.Settings(),
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var panels []*bench.Panel
	for _, sec := range secs {
		panels = append(panels, sec.Chart)
	}
	svg, err := os.Create(filepath.Join(out, "benchmarks.svg"))
	if err != nil {
		return err
	}
	if err := bench.WriteSVG(svg, panels); err != nil {
		return err
	}
	if err := svg.Close(); err != nil {
		return err
	}
	md, err := os.Create(filepath.Join(out, "benchmarks.md"))
	if err != nil {
		return err
	}
	if err := bench.WriteMarkdown(md, h, "benchmarks.svg", secs); err != nil {
		return err
	}
	if err := md.Close(); err != nil {
		return err
	}
	log.Printf("wrote %s and %s in %v", md.Name(), svg.Name(), time.Since(start).Round(time.Second))
	return nil
}

// revision is the commit measured, from -rev.
var revision = "(this checkout)"
