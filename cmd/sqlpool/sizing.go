package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlpool/sqlpool"
)

// The sizing section's load, open: requests arrive at sizingRate a second
// whether or not the pool keeps up, as an API's users do, and each holds a
// connection for sizingHold, so the load keeps sizingRate × sizingHold
// connections busy (Little's law: 6), more than sizingMaxConns.
const (
	sizingRate           = 60
	sizingHold           = 100 * time.Millisecond
	sizingMaxConns       = 4
	sizingAcquireTimeout = 500 * time.Millisecond
	// sizingWindow is the pools' pool_alert_window: short, so that the
	// alerts fire within seconds (the default is a minute).
	sizingWindow = 5 * time.Second
	// sizingDeadline bounds each phase: the advice has a verdict after
	// five samples, a second apart, and the alerts fire in about as long.
	sizingDeadline = time.Minute

	undersizedPool = "orders-undersized"
	resizedPool    = "orders-resized"
)

// sizingDemo runs section 7: a pool of sizingMaxConns connections under a
// load that needs more, until its alerts have fired and sqlpool.Advise has
// a verdict; then the same load on a pool of the size the advice
// recommends. With keep set (--serve), both pools stay open under their
// loads, for the dashboard, until stop is called; otherwise they are closed
// when it returns, and stop does nothing.
func sizingDemo(ctx context.Context, w io.Writer, t target, keep bool) (stop func(), err error) {
	section(w, fmt.Sprintf("7. Sizing: %d requests/s, each holding a connection %v (%g connections busy), on pool_max_conns=%d",
		sizingRate, sizingHold, sizingRate*sizingHold.Seconds(), sizingMaxConns))
	out := &lockedWriter{w: w}
	var stops []func()
	stop = func() {
		for _, f := range stops {
			f()
		}
	}
	defer func() {
		if !keep || err != nil {
			stop()
			stop = func() {}
		}
	}()

	under, err := startSizingPool(ctx, out, t, undersizedPool, sizingMaxConns)
	if err != nil {
		return stop, err
	}
	stops = append(stops, under.stop)
	fmt.Fprintf(out, "sql.Open(%q, %q)\n", sqlpool.DriverName, sqlpool.RedactDSN(under.dsn))
	fmt.Fprintf(out, "each request: db.BeginTx, %s, %v of the application's work, Commit; the pool's alerts, as they fire:\n", t.query, sizingHold)
	a, err := under.await(ctx, func(a sqlpool.Advice) bool {
		return a.Verdict != sqlpool.VerdictNotEnoughData && under.fired(sqlpool.AlertUtilization) && under.fired(sqlpool.AlertExhaustion)
	})
	if err != nil {
		return stop, err
	}
	if a2, err := sqlpool.Advise(ctx, under.db); err == nil {
		a = a2 // the same, through the API an application calls
	}
	under.mute()
	fmt.Fprintf(out, "after %s: %s\n", fmtDur(time.Since(under.start)), under.counts())
	fmt.Fprintln(out, "sqlpool.Advise(ctx, db) says:")
	printAdvice(out, a)
	if a.RecommendedMaxConns == 0 {
		fmt.Fprintln(out, "no recommendation to try: the advice had not enough data")
		return stop, nil
	}

	// The fix: the same load on a pool of the recommended size.
	resized, err := startSizingPool(ctx, out, t, resizedPool, a.RecommendedMaxConns)
	if err != nil {
		return stop, err
	}
	stops = append(stops, resized.stop)
	fmt.Fprintf(out, "the same load on pool_max_conns=%d (%s), as the advice says:\n", a.RecommendedMaxConns, resizedPool)
	b, err := resized.await(ctx, func(a sqlpool.Advice) bool { return a.Verdict != sqlpool.VerdictNotEnoughData })
	if err != nil {
		return stop, err
	}
	resized.mute()
	fired := "no alert fired"
	switch n := resized.firedCount(); n {
	case 0:
	case 1:
		fired = "1 alert fired"
	default:
		fired = strconv.Itoa(n) + " alerts fired"
	}
	fmt.Fprintf(out, "after %s: %s; %s\n", fmtDur(time.Since(resized.start)), resized.counts(), fired)
	printAdvice(out, b)
	return stop, nil
}

// printAdvice prints the advice's verdict, recommendation and reason.
func printAdvice(w io.Writer, a sqlpool.Advice) {
	tw := table(w)
	fmt.Fprintf(tw, "  verdict\t%s\n", a.Verdict)
	if a.RecommendedMaxConns > 0 {
		fmt.Fprintf(tw, "  recommended\tpool_max_conns=%d (now %d)\n", a.RecommendedMaxConns, a.MaxConns)
	}
	fmt.Fprintf(tw, "  reason\t%s\n", a.Reason)
	if a.Warning != "" {
		fmt.Fprintf(tw, "  warning\t%s\n", a.Warning)
	}
	tw.Flush()
}

// sizingPool is one pool of the sizing section under its load.
type sizingPool struct {
	dsn   string
	ctr   *sqlpool.Connector
	db    *sql.DB
	start time.Time
	stop  func() // ends the load and closes the pool

	served, timedOut, failed atomic.Int64

	mu     sync.Mutex
	out    io.Writer       // where alerts are printed; nil once muted; guarded by mu
	firing map[string]bool // the alerts that fired; guarded by mu
}

// startSizingPool opens a pool named name of maxConns connections on t's
// database and starts the section's load on it.
func startSizingPool(ctx context.Context, out io.Writer, t target, name string, maxConns int) (*sizingPool, error) {
	p := &sizingPool{out: out, firing: map[string]bool{}}
	kv := []string{
		"pool_name", name,
		"pool_max_conns", strconv.Itoa(maxConns),
		"pool_acquire_timeout", sizingAcquireTimeout.String(),
		"pool_alert_window", sizingWindow.String(),
	}
	if v, ok := t.params["pool_reset_session"]; ok {
		// As the demo's own pool: on SQLite, a reset replaces the
		// connection, and an acquire that replaces one counts as two.
		kv = append(kv, "pool_reset_session", v)
	}
	p.dsn = t.driver + ":" + withParams(t.rawDSN, kv...)
	ctr, err := sqlpool.NewConnector(p.dsn,
		// The alerts are printed by the hook, in a line each, without the
		// advice that the log line carries: it is printed below.
		sqlpool.WithLogger(slog.New(slog.DiscardHandler)),
		sqlpool.WithOnAlert(p.alert))
	if err != nil {
		return nil, err
	}
	p.ctr, p.db = ctr, sql.OpenDB(ctr)
	loadCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	p.start = time.Now()
	wg.Go(func() { p.load(loadCtx, &wg, t) })
	p.stop = func() {
		cancel()
		wg.Wait()
		p.db.Close()
	}
	return p, nil
}

// load starts a request every 1/sizingRate of a second until ctx ends.
func (p *sizingPool) load(ctx context.Context, wg *sync.WaitGroup, t target) {
	tick := time.NewTicker(time.Second / sizingRate)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		wg.Go(func() {
			err := liveWork(ctx, p.db, t, n, sizingHold)
			switch {
			case err == nil:
				p.served.Add(1)
			case errors.Is(err, sqlpool.ErrAcquireTimeout):
				p.timedOut.Add(1)
			case ctx.Err() == nil:
				p.failed.Add(1)
			}
		})
	}
}

// alert is the pool's WithOnAlert hook: it prints each change until muted.
func (p *sizingPool) alert(a sqlpool.Alert) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.Firing {
		p.firing[a.Name] = true
	}
	if p.out == nil {
		return
	}
	state := "cleared"
	if a.Firing {
		state = "firing"
	}
	fmt.Fprintf(p.out, "  %s  alert %s: %s: %s\n", fmtDur(a.Since.Sub(p.start)), state, a.Name, a.Message)
}

// mute stops the printing of alerts: the section's summary follows.
func (p *sizingPool) mute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = nil
}

func (p *sizingPool) fired(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firing[name]
}

func (p *sizingPool) firedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.firing)
}

// counts says what became of the requests so far.
func (p *sizingPool) counts() string {
	s := fmt.Sprintf("%d requests served, %d timed out waiting for a connection", p.served.Load(), p.timedOut.Load())
	if n := p.failed.Load(); n > 0 {
		s += fmt.Sprintf(", %d failed otherwise", n)
	}
	return s
}

// await polls the pool's advice until done holds of it, or sizingDeadline
// passes (it returns the advice then, whatever it says), or ctx ends.
func (p *sizingPool) await(ctx context.Context, done func(sqlpool.Advice) bool) (sqlpool.Advice, error) {
	deadline := time.Now().Add(sizingDeadline)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		a := p.ctr.Advise()
		if done(a) || time.Now().After(deadline) {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-tick.C:
		}
	}
}
