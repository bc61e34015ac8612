package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
)

// sqlpool's own instruments, beside the semantic conventions'.
const (
	MetricLeaks           = "sqlpool.connection.leaks"
	MetricPrePingFailures = "sqlpool.connection.preping_failures"
	MetricDestroyed       = "sqlpool.connection.destroyed"
	// AttrDestroyReason is MetricDestroyed's attribute: why connections
	// were closed (lifetime, idle, broken, check_failed, reclaimed, …).
	AttrDestroyReason = "sqlpool.destroy.reason"
	// MetricAlerts is 1 for each of the pool's alerts that fires, 0 for
	// those that do not, by AttrAlertName.
	MetricAlerts  = "sqlpool.pool.alerts"
	AttrAlertName = "sqlpool.alert.name"
)

// ObservePool registers the pool's asynchronous instruments, which read
// stats at each collection. Close unregisters them.
func (t *Telemetry) ObservePool(stats func() PoolStats) error {
	m := t.meter
	count, err := dbconv.NewClientConnectionCountObservable(m)
	if err != nil {
		return err
	}
	idleMax, err := dbconv.NewClientConnectionIdleMaxObservable(m)
	if err != nil {
		return err
	}
	idleMin, err := dbconv.NewClientConnectionIdleMinObservable(m)
	if err != nil {
		return err
	}
	max, err := dbconv.NewClientConnectionMaxObservable(m)
	if err != nil {
		return err
	}
	pending, err := dbconv.NewClientConnectionPendingRequestsObservable(m)
	if err != nil {
		return err
	}
	timeouts, err := dbconv.NewClientConnectionTimeoutsObservable(m)
	if err != nil {
		return err
	}
	leaks, err := m.Int64ObservableCounter(MetricLeaks, metric.WithUnit("{connection}"),
		metric.WithDescription("Connections held by the application longer than pool_leak_threshold, each counted once."))
	if err != nil {
		return err
	}
	prePing, err := m.Int64ObservableCounter(MetricPrePingFailures, metric.WithUnit("{connection}"),
		metric.WithDescription("Idle connections that failed validation (pre-ping or health check) and were closed."))
	if err != nil {
		return err
	}
	destroyed, err := m.Int64ObservableCounter(MetricDestroyed, metric.WithUnit("{connection}"),
		metric.WithDescription("Connections closed by the pool, by reason."))
	if err != nil {
		return err
	}

	alerts, err := m.Int64ObservableGauge(MetricAlerts, metric.WithUnit("{alert}"),
		metric.WithDescription("1 for each of the pool's alerts (utilization, wait, exhaustion, acquire_timeouts, dial_errors) that fires, 0 for each that is on and does not."))
	if err != nil {
		return err
	}

	pool := semconv.DBClientConnectionPoolName(t.cfg.PoolName)
	poolOpt := metric.WithAttributeSet(attribute.NewSet(pool))
	idleOpt := metric.WithAttributeSet(attribute.NewSet(pool, semconv.DBClientConnectionStateIdle))
	usedOpt := metric.WithAttributeSet(attribute.NewSet(pool, semconv.DBClientConnectionStateUsed))
	var reasonOpts, alertOpts []metric.ObserveOption
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := stats()
		o.ObserveInt64(count.Inst(), s.Idle, idleOpt)
		o.ObserveInt64(count.Inst(), s.InUse, usedOpt)
		// sqlpool keeps up to Max connections idle: it has no idle cap of its own.
		o.ObserveInt64(idleMax.Inst(), s.Max, poolOpt)
		o.ObserveInt64(idleMin.Inst(), s.MinIdle, poolOpt)
		o.ObserveInt64(max.Inst(), s.Max, poolOpt)
		o.ObserveInt64(pending.Inst(), s.Pending, poolOpt)
		o.ObserveInt64(timeouts.Inst(), s.Timeouts, poolOpt)
		o.ObserveInt64(leaks, s.Leaks, poolOpt)
		o.ObserveInt64(prePing, s.PrePingFailures, poolOpt)
		if reasonOpts == nil { // the callback runs one collection at a time
			for _, r := range s.DestroyedReasons {
				reasonOpts = append(reasonOpts, metric.WithAttributeSet(attribute.NewSet(pool, attribute.String(AttrDestroyReason, r))))
			}
		}
		for i, n := range s.Destroyed {
			if i < len(reasonOpts) {
				o.ObserveInt64(destroyed, n, reasonOpts[i])
			}
		}
		if alertOpts == nil {
			for _, a := range s.AlertNames {
				alertOpts = append(alertOpts, metric.WithAttributeSet(attribute.NewSet(pool, attribute.String(AttrAlertName, a))))
			}
		}
		for i, f := range s.Alerts {
			if i < len(alertOpts) {
				o.ObserveInt64(alerts, f, alertOpts[i])
			}
		}
		return nil
	}, count.Inst(), idleMax.Inst(), idleMin.Inst(), max.Inst(), pending.Inst(), timeouts.Inst(), leaks, prePing, destroyed, alerts)
	return err
}
