package sqlpool

import (
	"context"
	"database/sql/driver"
	"io"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
	"github.com/sqlpool/sqlpool/internal/tracing"
	"github.com/sqlpool/sqlpool/pool"
)

// The glue between the pool and OpenTelemetry (internal/tracing): the
// spans of operations and dials, and the pool's metrics.

// newTelemetry starts the pool's OpenTelemetry spans and metrics, unless
// pool_tracing=false. target describes the database for the attributes.
func (ps *poolState) newTelemetry(target dbtarget.Target) error {
	if ps.cfg.tracingOff {
		return nil
	}
	tel, err := tracing.New(tracing.Config{
		TracerProvider:      ps.cfg.tracerProvider,
		MeterProvider:       ps.cfg.meterProvider,
		QueryText:           ps.cfg.queryText.tracing(),
		SQLCommenter:        ps.cfg.sqlCommenter,
		System:              target.System,
		Namespace:           target.Namespace,
		ServerAddress:       target.Address,
		ServerPort:          target.Port,
		PoolName:            ps.name,
		DoubleQuotedStrings: ps.kind.doubleQuotedStrings(),
	})
	if err != nil {
		return err
	}
	ps.tel = tel
	ps.resolveSystem.Store(target.System == "mysql")
	return nil
}

// observePool registers the pool metrics, once the pool exists.
func (ps *poolState) observePool() error {
	if ps.tel == nil {
		return nil
	}
	reasons := pool.DestroyReasons()
	names := make([]string, len(reasons))
	for i, r := range reasons {
		names[i] = r.String()
	}
	return ps.tel.ObservePool(func() tracing.PoolStats {
		s := ps.stat()
		destroyed := make([]int64, len(reasons))
		for i, r := range reasons {
			destroyed[i] = s.DestroyedCount(r)
		}
		return tracing.PoolStats{
			Idle:             int64(s.Idle),
			InUse:            int64(s.InUse),
			Max:              int64(s.MaxSize),
			MinIdle:          int64(ps.cfg.minIdleConns),
			Pending:          int64(s.Waiting),
			Timeouts:         s.TimeoutCount,
			Leaks:            s.Leaks,
			PrePingFailures:  s.DestroyedCount(pool.ReasonCheck),
			Destroyed:        destroyed,
			DestroyedReasons: names,
		}
	})
}

// dialed measures a new physical connection and, for the first one of a
// MySQL-protocol pool, asks the server whether it is MariaDB.
func (ps *poolState) dialed(ctx context.Context, ic driver.Conn, took time.Duration) {
	ps.tel.Created(ctx, took)
	if ps.resolveSystem.Load() && ps.resolveSystem.CompareAndSwap(true, false) {
		if v := serverVersion(ctx, ic); strings.Contains(strings.ToLower(v), "mariadb") {
			ps.tel.SetSystem("mariadb")
		}
	}
}

// serverVersion returns SELECT VERSION() on ic, or "" if it cannot tell.
func serverVersion(ctx context.Context, ic driver.Conn) string {
	v, _ := queryValue(ctx, ic, "SELECT VERSION()")
	return v
}

// startSpan begins op's span on the logical connection. A span that
// database/sql's fallback after driver.ErrSkip left behind ends first.
//
// This is the one place an operation asks whether anything records: the
// answer means reading the global providers (an application may install
// its own at any time), and while they record nothing that reading is most
// of what telemetry costs. The Span keeps the answer for the operation,
// telState for unbind.
func (c *conn) startSpan(ctx context.Context, op tracing.Op, query string, nargs int) (context.Context, tracing.Span) {
	if c.skipSpan.Active() {
		c.endSkipSpan()
	}
	if c.ps.tel == nil { // pool_tracing=false: not even a look at the providers
		c.telState, c.telAsked = 0, true
		return ctx, tracing.Span{}
	}
	st := c.ps.tel.State()
	c.telState, c.telAsked = st, true
	if st == 0 {
		return ctx, tracing.Span{}
	}
	return c.ps.tel.StartIn(ctx, st, op, query, nargs > 0)
}

// skipped keeps sp, the span of an Exec or Query the connection answered
// with driver.ErrSkip: database/sql now prepares query on this connection,
// runs the statement and closes it, and that is still the same operation,
// with the same span.
func (c *conn) skipped(sp tracing.Span, query string) {
	c.skipSpan, c.skipQuery = sp, query
}

// takeSkipSpan returns the span kept by skipped if query is its statement.
func (c *conn) takeSkipSpan(query string) (tracing.Span, bool) {
	if !c.skipSpan.Active() || c.skipQuery != query {
		return tracing.Span{}, false
	}
	sp := c.skipSpan
	c.skipSpan, c.skipQuery = tracing.Span{}, ""
	return sp, true
}

// endSkipSpan ends a kept span whose fallback never came.
func (c *conn) endSkipSpan() {
	c.skipSpan.End(context.Background(), nil)
	c.skipQuery = ""
}

// spanRows is what a query's rows need to end its span.
type spanRows struct {
	span tracing.Span
	n    int64
	err  error
}

func (s *spanRows) next(err error) {
	switch {
	case err == nil:
		s.n++
	case err != io.EOF:
		s.err = err
	}
}
