// Command reliability runs sqlpool's reliability suite: a soak load with a
// fault injected in its middle (a terminate storm, cut connections, an
// outage, a black hole, latency, a server restart), each on raw
// database/sql and on sqlpool with the same driver, and the fuzzers for a
// set time, and writes docs/reliability.md. From the repository's root:
//
//	scripts/reliability          # about 10 minutes on 2 cores
//
// It needs PostgreSQL at 127.0.0.1:5432 (or SQLPOOL_BENCH_POSTGRES, a URL)
// and, for the restart, PostgreSQL's server binaries to start a throwaway
// instance.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/bench"
)

func main() {
	out := flag.String("out", "../docs", "directory to write reliability.md into")
	quick := flag.Bool("quick", false, "a smoke run of a few seconds: proves the scenarios run, measures nothing worth reading")
	only := flag.String("only", "", "comma-separated scenarios to run (soak,storm,cut,outage,blackhole,latency,restart,failover); all when empty")
	failoverTime := flag.Duration("failover", 10*time.Second, "how long each peer's write load runs in the failover experiment")
	load := flag.Duration("load", 10*time.Second, "how long each fault scenario's load runs")
	soakTime := flag.Duration("soak", time.Minute, "how long the soak runs")
	fuzz := flag.Duration("fuzz", time.Minute, "how long each fuzz target runs; 0 skips fuzzing")
	rev := flag.String("rev", "(this checkout)", "the commit measured, for the report")
	flag.Parse()
	r := &bench.Reliability{
		PostgresURL: bench.PostgresURL(),
		LoadTime:    *load,
		SoakTime:    *soakTime,
		FuzzTime:    *fuzz,
		Root:        "..",
		Log:         log.Default(),
	}
	if *quick {
		r.LoadTime, r.SoakTime, r.FuzzTime = 2*time.Second, 2*time.Second, min(r.FuzzTime, 3*time.Second)
	}
	if *only != "" {
		r.Only = strings.Split(*only, ",")
	}
	// The command as the report names it: the script and the flags given,
	// but for those the script itself passes.
	var args []string
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "out" && f.Name != "rev" {
			args = append(args, "-"+f.Name+" "+f.Value.String())
		}
	})
	f := &bench.Failover{LoadTime: *failoverTime, Log: log.Default()}
	if *quick {
		f.LoadTime = 3 * time.Second
	}
	if r.Only != nil && !slices.Contains(r.Only, "failover") {
		f = nil
	}
	if err := run(r, f, *out, *rev, args); err != nil {
		log.Fatal(err)
	}
}

func run(r *bench.Reliability, f *bench.Failover, out, rev string, args []string) error {
	ctx := context.Background()
	start := time.Now()
	admin, err := bench.OpenAdmin(ctx, r.PostgresURL)
	if err != nil {
		return fmt.Errorf("%w (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or set SQLPOOL_BENCH_POSTGRES)", err)
	}
	defer admin.Close()
	runs, err := r.Run(ctx)
	if err != nil {
		return err
	}
	var failover []bench.FailoverRun
	if f != nil {
		if failover, err = f.Run(ctx); err != nil {
			return err
		}
	}
	var fuzz []bench.FuzzRun
	if r.FuzzTime > 0 {
		fuzz = r.Fuzz(ctx)
	}
	cmd := strings.Join(append([]string{"scripts/reliability"}, args...), " ")
	h := bench.Header{
		Command:  cmd,
		Date:     time.Now(),
		Machine:  bench.Machine(),
		Versions: bench.Versions(ctx, admin, rev),
		Took:     time.Since(start),
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	file, err := os.Create(filepath.Join(out, "reliability.md"))
	if err != nil {
		return err
	}
	if err := bench.WriteReliability(file, h, r, runs, f, failover, fuzz); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	log.Printf("wrote %s in %v", file.Name(), time.Since(start).Round(time.Second))
	for _, fr := range fuzz {
		if !fr.Passed {
			return fmt.Errorf("fuzz target %s failed; see %s", fr.Target, file.Name())
		}
	}
	return nil
}
