package bench

import (
	"context"
	"fmt"
	"time"
)

// SleepQuery is workload 4's query: about 2 ms on the server.
const SleepQuery = "SELECT 1 FROM pg_sleep(0.002)"

// OverloadPeers are workload 4's peers.
func OverloadPeers() []PGPeer {
	return []PGPeer{
		RawPeer("pq"), SQLPoolPeer(PeerSQLPool, "pq"),
		RawPeer("pgx"), SQLPoolPeer(PeerSQLPool, "pgx"),
		PGXPoolSQLPeer(), PGXPoolPeer(),
	}
}

// Overload is workload 4: 256 goroutines over 8 connections on a 2 ms
// query. What each goroutine waits is queueing: database/sql hands a freed
// connection to a random waiter, sqlpool to the longest waiting.
func (s *Suite) Overload(ctx context.Context) (Section, error) {
	const goroutines, conns = 256, 8
	// The query time, measured alone on one connection in this run.
	lim, err := PGXConnsTarget(ctx, s.PostgresURL, 1)
	if err != nil {
		return Section{}, err
	}
	single := Load{Goroutines: 1, Query: SleepQuery, Warmup: 50 * time.Millisecond, Duration: s.OverloadTime / 6, Worker: lim.Worker}.Run(ctx)
	lim.Close()
	if single.Errors > 0 || single.Ops == 0 {
		return Section{}, fmt.Errorf("workload 4, query time: %v", single.FirstErrors)
	}
	qt := time.Duration(float64(single.Elapsed) / float64(single.Ops))
	ideal := time.Duration(goroutines / conns * int64(qt))
	sec := Section{
		Title: "4. Overload: 256 goroutines over 8 connections, a 2 ms query",
		Text: []string{
			fmt.Sprintf("Benchmark: `Suite.Overload`. `%s` from 256 goroutines over 8 connections for %v each (after %v of warm-up); each latency is from asking for a connection to having the row. The query alone takes %s here (one `pgx.Conn`, measured in this run), so the ideal queueing time, goroutines ÷ connections × query time, is %s: the time every request takes when waiters are served in order. Connection limits as in workload 2.", SleepQuery, s.OverloadTime, s.OverloadTime/6, fmtDur(qt), fmtDur(ideal)),
		},
		Header: []string{"driver", "peer", "queries/s", "p50", "p99", "p99.9", "max", "p99 ÷ ideal"},
	}
	panel := &Panel{Title: fmt.Sprintf("4. Overload: p99 time to get a connection and finish, ÷ the ideal %s (lower is better)", fmtDur(ideal)), Ref: 1}
	p99 := map[string]time.Duration{}
	for _, p := range OverloadPeers() {
		t, _, err := openPeer(ctx, p, s.PostgresURL, conns)
		if err != nil {
			return Section{}, err
		}
		s.Log.Printf("workload 4: %s (%s)", p.Name, p.Driver)
		r := Load{Goroutines: goroutines, Query: SleepQuery, Warmup: s.OverloadTime / 6, Duration: s.OverloadTime, Worker: t.Worker}.Run(ctx)
		t.Close()
		if r.Errors > 0 {
			return Section{}, fmt.Errorf("workload 4 %s (%s): %d errors: %v", p.Name, p.Driver, r.Errors, r.FirstErrors)
		}
		q99 := r.Quantile(0.99)
		p99[p.Driver+"/"+p.Name] = q99
		ratio := float64(q99) / float64(ideal)
		sec.Rows = append(sec.Rows, []string{p.Driver, p.Name, fmt.Sprintf("%.0f", r.Throughput()),
			fmtDur(r.Quantile(0.5)), fmtDur(q99), fmtDur(r.Quantile(0.999)), fmtDur(r.Latencies[len(r.Latencies)-1]), fmtRatio(ratio)})
		panel.Bars = append(panel.Bars, Bar{Label: p.Driver + ": " + p.Name, Value: ratio, Ours: isOurs(p.Name), Text: fmtDur(q99)})
	}
	sec.Chart = panel
	for _, drv := range []string{"pq", "pgx"} {
		ours, raw := p99[drv+"/"+PeerSQLPool], p99[drv+"/"+PeerRaw]
		r := float64(ours) / float64(ideal)
		sec.Goals = append(sec.Goals, Goal{
			Text: fmt.Sprintf("4: p99 within 1.1× the ideal queueing time, about a third of `database/sql`'s p99 or less, %s [limit: FIFO service]", drv),
			Met:  r <= 1.1 && float64(ours) <= float64(raw)/3*1.05,
			Result: fmt.Sprintf("sqlpool p99 %s = %s ideal, %.2f of database/sql's %s", fmtDur(ours), fmtRatio(r), float64(ours)/float64(raw), fmtDur(raw)) +
				func() string {
					if r > 1.1 {
						return fmt.Sprintf("; missed by %.1f%%", (r/1.1-1)*100)
					}
					return ""
				}(),
		})
	}
	return sec, nil
}

// RecoveryPeers are workload 5's peers.
func RecoveryPeers() []PGPeer {
	return []PGPeer{
		RawPeer("pq"), SQLPoolPeer(PeerSQLPool, "pq"),
		RawPeer("pgx"), SQLPoolPeer(PeerSQLPool, "pgx"),
		PGXPoolPeer(),
	}
}

// recoveryLoad is the steady load of workload 5: SELECT 1 from 16
// goroutines over 8 connections, throughput counted per 10 ms.
func recoveryLoad(t *Target, d time.Duration, at *Event) Load {
	return Load{Goroutines: 16, Query: "SELECT 1", Duration: d, Worker: t.Worker, Bucket: 10 * time.Millisecond, At: at, OpTimeout: 10 * time.Second}
}

// recoveredAfter returns how long after the event's start throughput was
// back: the start of the first 50 ms window, at or after the event, that
// begins with a 10 ms bucket of at least half the median throughput of the
// buckets before the event and holds at least half their median rate in
// all (a window, not single buckets, so that one slow bucket in a recovered
// load does not count as an outage). ok is false if that never happened.
func recoveredAfter(r *Result, ev *Event, bucket time.Duration) (time.Duration, bool) {
	const window = 5
	evb := int(ev.Start / bucket)
	if evb <= 1 || evb >= len(r.Series) {
		return 0, false
	}
	pre := make([]float64, 0, evb)
	for _, n := range r.Series[1:evb] { // the first bucket is partial
		pre = append(pre, float64(n))
	}
	half := median(pre) / 2
	// The last bucket is partial too.
	for b := evb; b+window <= len(r.Series)-1; b++ {
		var sum int64
		for _, n := range r.Series[b : b+window] {
			sum += n
		}
		if float64(r.Series[b]) >= half && float64(sum) >= window*half {
			return max(0, time.Duration(b)*bucket-ev.Start), true
		}
	}
	return 0, false
}

// Recovery is workload 5: every backend killed under steady load, killed
// after a pause longer than sqlpool's ping threshold, and the server
// restarted (on a throwaway instance).
func (s *Suite) Recovery(ctx context.Context, admin *Admin) (Section, error) {
	sec := Section{
		Title: "5. Recovery: backends killed, server restarted",
		Text: []string{
			"Benchmark: `Suite.Recovery`. `SELECT 1` from 16 goroutines over 8 connections (limits as in workload 2), three ways: (a) under steady load, every backend of the peer is killed with `pg_terminate_backend`; (b) the load pauses for 1.5 s (longer than sqlpool's `pool_ping_idle_after`, 1 s by default), the backends are killed during the pause, and the load resumes; (c) on a throwaway PostgreSQL instance, the server is restarted (`pg_ctl restart -m fast`) under steady load. Errors are those the application's queries returned; recovery is the time from the kill or the restart command until throughput is back: the first 50 ms window that starts with a 10 ms bucket of at least half the median before the event and holds at least half that median rate in all. Raw `database/sql` over lib/pq is the limit: its driver's own `driver.ErrBadConn` retries.",
		},
		Header: []string{"driver", "peer", "(a) errors", "(a) recovered after", "(b) errors after the pause", "(c) errors", "(c) recovered after (restart took)", "first error"},
	}
	temp, err := StartTempPostgres()
	if err != nil {
		return Section{}, fmt.Errorf("workload 5 needs a throwaway PostgreSQL: %w", err)
	}
	defer temp.Stop()
	dur := 3 * s.LoadTime / 2
	panel := &Panel{Title: "5. Errors the application saw: kill under load (a) + after a pause (b) (lower is better)"}
	errsA, errsB := map[string]int64{}, map[string]int64{}
	for _, p := range RecoveryPeers() {
		key := p.Driver + "/" + p.Name
		s.Log.Printf("workload 5: %s (%s)", p.Name, p.Driver)
		row := []string{p.Driver, p.Name}
		var firstErr string

		// (a) kill under load.
		t, app, err := openPeer(ctx, p, s.PostgresURL, 8)
		if err != nil {
			return Section{}, err
		}
		kill := &Event{After: dur / 3, Do: func() error { _, err := admin.Terminate(ctx, app); return err }}
		r := recoveryLoad(t, dur, kill).Run(ctx)
		if kill.Err != nil {
			t.Close()
			return Section{}, kill.Err
		}
		rec, ok := recoveredAfter(r, kill, 10*time.Millisecond)
		errsA[key] = r.Errors
		row = append(row, fmt.Sprint(r.Errors), recText(rec, ok))
		if len(r.FirstErrors) > 0 {
			firstErr = r.FirstErrors[0]
		}

		// (b) kill during a pause longer than the ping threshold.
		time.Sleep(1500 * time.Millisecond)
		if _, err := admin.Terminate(ctx, app); err != nil {
			t.Close()
			return Section{}, err
		}
		r = recoveryLoad(t, dur/3, nil).Run(ctx)
		t.Close()
		errsB[key] = r.Errors
		row = append(row, fmt.Sprint(r.Errors))
		if firstErr == "" && len(r.FirstErrors) > 0 {
			firstErr = r.FirstErrors[0]
		}

		// (c) server restart.
		t, _, err = openPeer(ctx, p, temp.URL(), 8)
		if err != nil {
			return Section{}, err
		}
		restart := &Event{After: dur / 3, Do: temp.Restart}
		r = recoveryLoad(t, 2*dur, restart).Run(ctx)
		t.Close()
		if restart.Err != nil {
			return Section{}, restart.Err
		}
		rec, ok = recoveredAfter(r, restart, 10*time.Millisecond)
		row = append(row, fmt.Sprint(r.Errors), fmt.Sprintf("%s (%s)", recText(rec, ok), fmtDur(restart.End-restart.Start)))
		if firstErr == "" && len(r.FirstErrors) > 0 {
			firstErr = r.FirstErrors[0]
		}
		if len(firstErr) > 90 {
			firstErr = firstErr[:90] + "…"
		}
		row = append(row, firstErr)
		sec.Rows = append(sec.Rows, row)
		panel.Bars = append(panel.Bars, Bar{Label: p.Driver + ": " + p.Name, Value: float64(errsA[key] + errsB[key]),
			Ours: isOurs(p.Name), Text: fmt.Sprintf("%d + %d", errsA[key], errsB[key])})
	}
	sec.Chart = panel
	for _, drv := range []string{"pq", "pgx"} {
		key := drv + "/" + PeerSQLPool
		sec.Goals = append(sec.Goals, Goal{
			Text:   fmt.Sprintf("5: zero application errors once the ping threshold has passed, at most one without a pause, %s [limit: lib/pq's own ErrBadConn retries]", drv),
			Met:    errsB[key] == 0 && errsA[key] <= 1,
			Result: fmt.Sprintf("%d after the pause, %d under steady load; raw lib/pq %d and %d", errsB[key], errsA[key], errsB["pq/"+PeerRaw], errsA["pq/"+PeerRaw]),
		})
	}
	return sec, nil
}

func recText(d time.Duration, ok bool) string {
	if !ok {
		return "not within the run"
	}
	return fmtDur(d)
}
