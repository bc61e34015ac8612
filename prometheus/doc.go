// Package sqlpoolprom exports sqlpool's pools to Prometheus: the physical
// connections under DBStatsCollector's go_sql_* names, so that Grafana
// dashboards built on them keep working, and the sqlpool_* series for what
// those lack. It is a module of its own, so client_golang stays out of
// sqlpool's dependencies.
//
// One call registers it, for every sqlpool pool of the process:
//
//	if err := sqlpoolprom.Register(nil); err != nil { // prometheus.DefaultRegisterer
//		log.Fatal(err)
//	}
//	http.Handle("/metrics", promhttp.Handler())
//
// Use it instead of client_golang's collectors.NewDBStatsCollector. On a
// sqlpool *sql.DB that one reads sql.DB.Stats, which counts database/sql's
// own pool: sqlpool's logical connections (shells), which hold no server
// connection while idle and are opened and closed by database/sql's
// settings (SetMaxIdleConns, SetConnMaxLifetime), not the physical
// connections to the server. Its go_sql_open_connections can say 0 while
// sqlpool keeps ten server connections open, and its
// go_sql_max_open_connections says 0 (unlimited) whatever pool_max_conns
// is. This collector exports the same names with the physical pool's
// numbers.
//
// At each scrape it reads sqlpool.Snapshots: every pool open then, however
// it was opened (sql.Open, NewConnector, Wrap), each labelled db_name with
// the pool's name (pool_name; by default the inner driver's name and a
// number, as in "postgres#1"). Every series has the db_name label, so that
// go_sql_* and sqlpool_* series join on it. A pool closed since the last
// scrape is no longer exported. Two open pools of one name are exported
// as "name", "name (2)", …, in opening order.
//
// # The go_sql_* series
//
// The names, types, help texts and db_name label of
// collectors.NewDBStatsCollector (client_golang v1.25.0), to the letter, so
// that both can share a registry (for databases that are not sqlpool's);
// the values are the physical pool's:
//
//	go_sql_max_open_connections        gauge    pool_max_conns in force (SetMaxConns changes it)
//	go_sql_open_connections            gauge    physical connections open or being dialed
//	go_sql_in_use_connections          gauge    physical connections handed out (or being checked)
//	go_sql_idle_connections            gauge    physical connections idle in the pool
//	go_sql_wait_count_total            counter  acquires that queued for a physical connection, whatever their outcome (see below)
//	go_sql_wait_duration_seconds_total counter  the time those spent queued
//	go_sql_max_idle_closed_total       counter  always 0: sqlpool has no cap on idle connections (database/sql's SetMaxIdleConns closes shells only)
//	go_sql_max_idle_time_closed_total  counter  physical connections closed idle after pool_max_conn_idle_time
//	go_sql_max_lifetime_closed_total   counter  physical connections closed after pool_max_conn_lifetime
//
// An acquire that finds no idle connection queues, whether for one to come
// back or for the one dialed for it (the pool dials on its behalf, and a
// connection given back first serves it sooner), so go_sql_wait_count_total
// counts the dials too, where database/sql's own counts only the waits at
// SetMaxOpenConns.
//
// # The sqlpool_* series
//
// Labelled db_name, and where shown a second label:
//
//	sqlpool_info{driver,system,namespace,server}  gauge    always 1: the inner driver ("postgres"), the database's system ("postgresql"), name and server ("host:port"), "" where unknown
//	sqlpool_min_open_connections                  gauge    pool_min_conns in force
//	sqlpool_dialing_connections                   gauge    physical connections being dialed (open = in use + idle + dialing)
//	sqlpool_pending_requests                      gauge    operations queued for a physical connection now
//	sqlpool_acquires_total                        counter  physical connections handed out
//	sqlpool_acquire_timeouts_total                counter  acquires that failed at pool_acquire_timeout
//	sqlpool_leaks_total                           counter  connections held longer than pool_leak_threshold, each counted once
//	sqlpool_leak_suspect_connections              gauge    connections in use now that have been held longer than pool_leak_threshold
//	sqlpool_preping_failures_total                counter  idle connections that failed validation (pre-ping or health check) and were closed
//	sqlpool_connections_created_total             counter  physical connections dialed
//	sqlpool_dial_errors_total                     counter  dials that failed
//	sqlpool_connections_destroyed_total{reason}   counter  physical connections closed, by reason: broken, lifetime, idle, check_failed, closed, reclaimed, retired, reset, resized (pool.DestroyReasons; every reason at every scrape)
//	sqlpool_session_resets_total                  counter  sessions reset by a statement before serving a logical connection that must not see their state
//	sqlpool_hold_duration_seconds                 histogram how long connections were held, from the hand-out to their return
//	sqlpool_wait_duration_seconds                 histogram how long acquires queued (its _count is go_sql_wait_count_total)
//
// The histograms' buckets are every second bound of the pool's own
// (pool.BucketBound): the powers of two nanoseconds from 2^10 (1.024µs) to
// 2^41 (about 37 minutes), 32 buckets and +Inf, so that
// histogram_quantile(0.99, rate(sqlpool_hold_duration_seconds_bucket[5m]))
// is within a factor 2 of the true p99.
//
// The sizing advice (sqlpool.Advice, over the last five minutes; the
// numbers are 0 while the verdict is "not enough data"):
//
//	sqlpool_advice_window_seconds               gauge  the span of history the advice reads
//	sqlpool_advice_acquires_per_second          gauge  λ, the acquires offered per second (ArrivalRate)
//	sqlpool_advice_hold_mean_seconds            gauge  W, the mean hold time (HoldMean)
//	sqlpool_advice_hold_p99_seconds             gauge  the p99 hold time (HoldP99)
//	sqlpool_advice_busy_mean_connections        gauge  L = λW, connections busy on average (BusyMean)
//	sqlpool_advice_busy_p99_connections         gauge  the p99 of connections in use, scaled by the load turned away (BusyP99)
//	sqlpool_advice_waited_ratio                 gauge  the share of acquires that queued, 0 to 1 (WaitedShare)
//	sqlpool_advice_wait_p99_seconds             gauge  the p99 of their waits (WaitP99)
//	sqlpool_advice_recommended_max_connections  gauge  the pool_max_conns to set (RecommendedMaxConns)
//	sqlpool_advice_server_connection_limit      gauge  what the server accepts from the pool's user, 0 while unknown (ServerLimit)
//	sqlpool_advice_verdict{verdict}             gauge  1 for the verdict ("not enough data", "undersized", "right", "oversized"), 0 for the other three
//
// The alerts that are on (sqlpool.Snapshot.Alerts: utilization, wait,
// exhaustion, acquire_timeouts, dial_errors), none with pool_alert_window=0:
//
//	sqlpool_alert_firing{alert}     gauge  1 while the alert fires, 0 while it does not
//	sqlpool_alert_value{alert}      gauge  what it measured at its last evaluation (sqlpool.Alert.Value)
//	sqlpool_alert_threshold{alert}  gauge  what fires it (sqlpool.Alert.Threshold)
//
// For example, the share of the pool in use and the pools told to grow:
//
//	sum by (db_name) (go_sql_in_use_connections) / sum by (db_name) (go_sql_max_open_connections)
//	sqlpool_advice_verdict{verdict="undersized"} == 1
package sqlpoolprom
