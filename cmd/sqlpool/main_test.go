package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/otlptest"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// runDemo runs the demo with args and returns its report.
func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, append([]string{"demo"}, args...), &out)
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: got error %v, want nil", err)
	}
	return out.String()
}

// section returns the lines of the report's section whose title starts
// with prefix ("2."), failing the test if there is none.
func sectionLines(t *testing.T, report, prefix string) []string {
	t.Helper()
	var (
		lines []string
		in    bool
	)
	for line := range strings.Lines(report) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "== ") {
			in = strings.HasPrefix(line, "== "+prefix)
			continue
		}
		if in {
			lines = append(lines, line)
		}
	}
	if lines == nil {
		t.Fatalf("the report has no section %q", prefix)
	}
	return lines
}

// row returns the whole-number columns of the line of lines that starts with
// label followed by spaces, failing the test if there is none.
func row(t *testing.T, lines []string, label string) []int64 {
	t.Helper()
	for _, line := range lines {
		rest, ok := strings.CutPrefix(line, label+"  ")
		if !ok {
			continue
		}
		var nums []int64
		for _, f := range strings.Fields(rest) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				nums = append(nums, -1) // not a number ("-")
				continue
			}
			nums = append(nums, n)
		}
		return nums
	}
	t.Fatalf("no row %q in:\n%s", label, strings.Join(lines, "\n"))
	return nil
}

// checkLeakSection checks section 5: the warning and the report name the
// QueryContext line of leakRows, and the info line follows the late close.
func checkLeakSection(t *testing.T, report string) {
	t.Helper()
	lines := sectionLines(t, report, "5.")
	src, err := os.ReadFile("leak.go")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "db.QueryContext(") {
			abs, err := filepath.Abs("leak.go")
			if err != nil {
				t.Fatal(err)
			}
			want = abs + ":" + strconv.Itoa(i+1)
		}
	}
	if want == "" {
		t.Fatal("leak.go has no db.QueryContext call")
	}
	warn := slices.IndexFunc(lines, func(l string) bool {
		return strings.Contains(l, "level=WARN") && strings.Contains(l, "open=rows") && strings.Contains(l, "acquired_at="+want+" ")
	})
	hook := slices.IndexFunc(lines, func(l string) bool {
		f := strings.Fields(l)
		return len(f) == 3 && f[0] == "acquired" && f[2] == want
	})
	leaks := slices.Index(lines, "Stat().Leaks = 1")
	info := slices.IndexFunc(lines, func(l string) bool {
		return strings.Contains(l, "level=INFO") && strings.Contains(l, "leaked connection returned") && strings.HasSuffix(l, "acquired_at="+want)
	})
	if warn < 0 || hook < warn || leaks < hook || info < leaks {
		t.Errorf("section 5 wants, in order, the WARN line, the hook's report and Stat().Leaks = 1 naming %s, then the INFO line; got lines %d, %d, %d, %d of:\n%s",
			want, warn, hook, leaks, info, strings.Join(lines, "\n"))
	}
}

func TestDemoOnSQLiteServesTheLoadWithFourConnectionsAndNoErrors(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	report := runDemo(t, "--duration", "1s", "--workers", "8")

	for _, title := range []string{"== 1. Open", "== 2. Load", "== 3. Lifetime rotation", "== 4. sqlpool.DBStat", "== 5. Leak detection", "== 6. Pre-ping: skipped", "== 7. Sizing"} {
		if !strings.Contains(report, title) {
			t.Errorf("the report has no section %q", title)
		}
	}

	// Columns: queries, errors, queries/s, database/sql conns, physical, peak.
	load := sectionLines(t, report, "2.")
	raw, pooled := row(t, load, "raw sqlite3"), row(t, load, "sqlpool")
	if len(raw) != 6 || len(pooled) != 6 {
		t.Fatalf("load rows: got %v and %v, want 6 numbers each", raw, pooled)
	}
	if raw[0] == 0 || pooled[0] == 0 {
		t.Errorf("queries served: got raw %d, sqlpool %d, want both > 0", raw[0], pooled[0])
	}
	if raw[1] != 0 || pooled[1] != 0 {
		t.Errorf("errors: got raw %d, sqlpool %d, want 0 and 0", raw[1], pooled[1])
	}
	if pooled[4] < 1 || pooled[4] > pooled[0] {
		t.Errorf("sqlpool physical connections: got %d, want between 1 and %d", pooled[4], pooled[0])
	}
	if pooled[5] > 4 {
		t.Errorf("sqlpool peak physical connections: got %d, want <= pool_max_conns 4", pooled[5])
	}

	rotation := strings.Join(sectionLines(t, report, "3."), "\n")
	if !strings.Contains(rotation, "pool_max_conns=4: the cap held") {
		t.Errorf("section 3 does not say the cap held:\n%s", rotation)
	}
	// With a 1s run the demo's lifetime is 250ms: connections rotate.
	if !strings.Contains(rotation, "retired by lifetime, each replaced") {
		t.Errorf("section 3 shows no lifetime retirement:\n%s", rotation)
	}

	stat := sectionLines(t, report, "4.")
	if got := row(t, stat, "max"); len(got) < 1 || got[0] != 4 {
		t.Errorf("Stat max: got %v, want 4 first", got)
	}
	if got := row(t, stat, "in use"); len(got) < 1 || got[0] != 0 {
		t.Errorf("Stat in use after the run: got %v, want 0 first", got)
	}
	// "in use  0  timeouts  0  canceled  0"
	if got := row(t, stat, "in use"); len(got) < 3 || got[2] != 0 {
		t.Errorf("Stat timeouts: got %v, want 0 third", got)
	}

	checkLeakSection(t, report)
	checkSizingSection(t, report)

	// Every DB is closed: no goroutine of the demo is left running.
	testdb.WaitFor(t, "the demo's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines })
}

// checkSizingSection checks section 7: the advice calls the pool of
// sizingMaxConns undersized and recommends more connections, and the same
// load runs on the size recommended.
func checkSizingSection(t *testing.T, report string) {
	t.Helper()
	lines := sectionLines(t, report, "7.")
	text := strings.Join(lines, "\n")
	advice := slices.Index(lines, "sqlpool.Advise(ctx, db) says:")
	if advice < 0 || advice+2 >= len(lines) {
		t.Fatalf("section 7 has no advice:\n%s", text)
	}
	if f := strings.Fields(lines[advice+1]); len(f) != 2 || f[0] != "verdict" || f[1] != string(sqlpool.VerdictUndersized) {
		t.Errorf("section 7: the advice's first line is %q, want the verdict %s:\n%s", lines[advice+1], sqlpool.VerdictUndersized, text)
	}
	var rec, now int
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[advice+2]), "recommended  pool_max_conns=%d (now %d)", &rec, &now); err != nil || now != sizingMaxConns || rec <= sizingMaxConns {
		t.Errorf("section 7: the advice's second line is %q (%v), want a recommendation above pool_max_conns=%d:\n%s", lines[advice+2], err, sizingMaxConns, text)
	}
	if !strings.Contains(text, fmt.Sprintf("set pool_max_conns=%d", rec)) {
		t.Errorf("section 7: the reason does not end with set pool_max_conns=%d:\n%s", rec, text)
	}
	if !strings.Contains(text, fmt.Sprintf("the same load on pool_max_conns=%d (%s)", rec, resizedPool)) {
		t.Errorf("section 7 does not rerun the load on the %d connections recommended:\n%s", rec, text)
	}
	for _, name := range []string{sqlpool.AlertExhaustion, sqlpool.AlertUtilization} {
		if !strings.Contains(text, "alert firing: "+name+": ") {
			t.Errorf("section 7 does not print the %s alert firing:\n%s", name, text)
		}
	}
}

func TestDemoOnPostgresPrePingReplacesKilledConnectionsWithoutFailedQueries(t *testing.T) {
	u := testdb.PostgresURL(t)
	for _, driverName := range []string{"postgres", "pgx"} {
		t.Run(driverName, func(t *testing.T) {
			dsn := driverName + ":" + testdb.WithParams(u, "pool_max_conns", "4", "pool_max_conn_lifetime", "500ms")
			report := runDemo(t, "--dsn", dsn, "--duration", "1s", "--workers", "8", "--sizing=false")

			load := sectionLines(t, report, "2.")
			if got := row(t, load, "sqlpool"); len(got) != 6 || got[1] != 0 {
				t.Errorf("sqlpool load row: got %v, want 0 errors second", got)
			}

			checkLeakSection(t, report)

			// Columns: killed, queries, failed, replaced by pre-ping.
			preping := sectionLines(t, report, "6.")
			for _, label := range []string{"sqlpool, db.QueryRow", "sqlpool, sql.Conn"} {
				got := row(t, preping, label)
				if len(got) != 4 {
					t.Fatalf("%s: got %v, want 4 numbers", label, got)
				}
				killed, queries, failed, replaced := got[0], got[1], got[2], got[3]
				if killed < 1 {
					t.Errorf("%s: killed %d backends, want >= 1", label, killed)
				}
				if queries != prePingQueries || failed != 0 {
					t.Errorf("%s: got %d of %d queries failed, want 0 of %d", label, failed, queries, prePingQueries)
				}
				if replaced != killed {
					t.Errorf("%s: pre-ping replaced %d connections, want the %d killed", label, replaced, killed)
				}
			}
			// The raw rows are there; their failures depend on the driver.
			row(t, preping, "raw "+driverName+", db.QueryRow")
			row(t, preping, "raw "+driverName+", sql.Conn")
		})
	}
}

func TestRunRejectsABadCommandLineWithUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nope"},
		{"demo", "--bogus"},
		{"demo", "--workers", "0"},
		{"demo", "--duration", "-1s"},
		{"demo", "extra"},
		{"demo", "--dsn", "postgres://u@h/db"},
		{"demo", "--dsn", "postgres:postgres://u@h/db?pool_max_conns=0"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), args, &out)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q): got error %v, want a usageError", args, err)
		}
	}
}

func TestRedactDSNMasksPasswords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres:postgres://app:s3cret@db:5432/app?sslmode=disable&pool_max_conns=4",
			"postgres:postgres://app:xxxxx@db:5432/app?sslmode=disable&pool_max_conns=4"},
		{"pgx:postgres://app@db/app", "pgx:postgres://app@db/app"},
		{"postgres:host=db user=app password='a b\\'c' dbname=app pool_max_conns=4",
			"postgres:host=db user=app password='xxxxx' dbname=app pool_max_conns=4"},
		{"postgres:host=db password=s3cret", "postgres:host=db password=xxxxx"},
		{"mysql:root:s3cret@tcp(127.0.0.1:3306)/test?pool_max_conns=4",
			"mysql:root:xxxxx@tcp(127.0.0.1:3306)/test?pool_max_conns=4"},
		{"mysql:root@tcp(127.0.0.1:3306)/test", "mysql:root@tcp(127.0.0.1:3306)/test"},
		{"sqlite3:file:/tmp/a.db?_auth_user=u&_auth_pass=s3cret&pool_max_conns=2",
			"sqlite3:file:/tmp/a.db?_auth_user=u&_auth_pass=xxxxx&pool_max_conns=2"},
		{"sqlite3:file:/tmp/a.db", "sqlite3:file:/tmp/a.db"},
	} {
		if got := sqlpool.RedactDSN(tc.in); got != tc.want {
			t.Errorf("sqlpool.RedactDSN(%q):\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
		// The raw line: the inner DSN alone, redacted the same way.
		name, inner, _ := strings.Cut(tc.in, ":")
		if got, want := redactInner(name, inner), strings.TrimPrefix(tc.want, name+":"); got != want {
			t.Errorf("redactInner(%q, %q):\ngot  %q\nwant %q", name, inner, got, want)
		}
	}
}

// demoPassword is the password of the DSNs below; the demo must never
// print it.
const demoPassword = "S3cr3t-Pa55"

// demoDSNs are the DSN forms the demo supports, each with a password.
var demoDSNs = []string{
	"postgres:postgres://postgres:" + demoPassword + "@127.0.0.1:5432/test?sslmode=disable&pool_max_conns=4",
	"postgres:host=127.0.0.1 user=postgres password=" + demoPassword + " dbname=test sslmode=disable pool_max_conns=4",
	"pgx:postgres://postgres:" + demoPassword + "@127.0.0.1:5432/test?pool_max_conns=4",
	"mysql:root:" + demoPassword + "@tcp(127.0.0.1:3306)/test?parseTime=true&pool_max_conns=4",
	"sqlite3:file:/tmp/demo.db?_auth=&_auth_user=u&_auth_pass=" + demoPassword + "&pool_max_conns=4",
}

func TestOpenSectionShowsTheDSNsWithoutThePassword(t *testing.T) {
	for _, dsn := range demoDSNs {
		tg, err := newTarget(options{dsn: dsn, duration: time.Second}, t.TempDir())
		if err != nil {
			t.Fatalf("newTarget(%q): %v", dsn, err)
		}
		var out bytes.Buffer
		printOpen(&out, tg)
		if strings.Contains(out.String(), "S3cr3t") || strings.Contains(out.String(), "Pa55") {
			t.Errorf("section 1 for %q shows the password:\n%s", dsn, out.String())
		}
		if !strings.Contains(out.String(), "xxxxx") {
			t.Errorf("section 1 for %q has no masked password:\n%s", dsn, out.String())
		}
	}
}

func TestNewTargetAddsOnlyWhatTheDSNLacks(t *testing.T) {
	app := "sqlpool-demo-" + strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		dsn             string
		wantDSN, rawDSN string
		added           []string
		lifetime        string
	}{
		{
			dsn:      "postgres:postgres://postgres:pw@127.0.0.1:5432/test?sslmode=disable&pool_max_conns=4",
			wantDSN:  "postgres:postgres://postgres:pw@127.0.0.1:5432/test?sslmode=disable&pool_max_conns=4&pool_max_conn_lifetime=250ms&pool_max_conn_lifetime_jitter=50ms&application_name=" + app,
			rawDSN:   "postgres://postgres:pw@127.0.0.1:5432/test?sslmode=disable&application_name=" + app,
			added:    []string{"pool_max_conn_lifetime=250ms", "pool_max_conn_lifetime_jitter=50ms", "application_name=" + app},
			lifetime: "250ms",
		},
		{
			dsn:      "pgx:host=127.0.0.1 dbname=test application_name = mine pool_max_conn_lifetime=500ms",
			wantDSN:  "pgx:host=127.0.0.1 dbname=test application_name = mine pool_max_conn_lifetime=500ms",
			rawDSN:   "host=127.0.0.1 dbname=test application_name = mine",
			lifetime: "500ms",
		},
		{
			dsn:      "mysql:root@tcp(127.0.0.1:3306)/test",
			wantDSN:  "mysql:root@tcp(127.0.0.1:3306)/test?pool_max_conn_lifetime=250ms&pool_max_conn_lifetime_jitter=50ms",
			rawDSN:   "root@tcp(127.0.0.1:3306)/test",
			added:    []string{"pool_max_conn_lifetime=250ms", "pool_max_conn_lifetime_jitter=50ms"},
			lifetime: "250ms",
		},
	} {
		tg, err := newTarget(options{dsn: tc.dsn, duration: time.Second}, t.TempDir())
		if err != nil {
			t.Fatalf("newTarget(%q): %v", tc.dsn, err)
		}
		if tg.dsn != tc.wantDSN || tg.rawDSN != tc.rawDSN || !slices.Equal(tg.added, tc.added) || tg.params["pool_max_conn_lifetime"] != tc.lifetime {
			t.Errorf("newTarget(%q):\ngot  dsn %q\n     raw %q, added %q, lifetime %q\nwant dsn %q\n     raw %q, added %q, lifetime %q",
				tc.dsn, tg.dsn, tg.rawDSN, tg.added, tg.params["pool_max_conn_lifetime"], tc.wantDSN, tc.rawDSN, tc.added, tc.lifetime)
		}
	}

	// Without --dsn: an SQLite file with the lifetime already set.
	dir := t.TempDir()
	tg, err := newTarget(options{duration: time.Second}, dir)
	if err != nil {
		t.Fatal(err)
	}
	wantRaw := "file:" + filepath.Join(dir, "demo.db") + "?_busy_timeout=5000&_journal_mode=WAL"
	if tg.driver != "sqlite3" || tg.rawDSN != wantRaw || len(tg.added) != 0 || tg.params["pool_max_conns"] != "4" {
		t.Errorf("newTarget without --dsn: got driver %q, raw %q, added %q, params %v; want sqlite3, %q, none, pool_max_conns 4",
			tg.driver, tg.rawDSN, tg.added, tg.params, wantRaw)
	}
}

func TestDSNEditing(t *testing.T) {
	for _, tc := range []struct{ name, dsn, want string }{
		{"postgres URL", "postgres:postgres://u:p@h:5432/db?sslmode=disable&pool_max_conns=4",
			"postgres:postgres://u:p@h:5432/db?sslmode=disable&pool_max_conns=4&pool_max_conn_lifetime=0&application_name=demo+one"},
		{"postgres URL without query", "postgres:postgres://u@h/db", "postgres:postgres://u@h/db?pool_max_conn_lifetime=0&application_name=demo+one"},
		{"URL with ? in the password", "pgx:postgres://u:p?w@h/db", "pgx:postgres://u:p?w@h/db?pool_max_conn_lifetime=0&application_name=demo+one"},
		{"pgx URL", "pgx:postgres://u@h/db?sslmode=disable", "pgx:postgres://u@h/db?sslmode=disable&pool_max_conn_lifetime=0&application_name=demo+one"},
		{"keyword", "postgres:host=h dbname='a b' pool_max_conns=4", "postgres:host=h dbname='a b' pool_max_conns=4 pool_max_conn_lifetime=0 application_name='demo one'"},
		{"mysql", "mysql:root:p?w@tcp(h:3306)/test?parseTime=true", "mysql:root:p?w@tcp(h:3306)/test?parseTime=true&pool_max_conn_lifetime=0&application_name=demo+one"},
		{"mysql without query", "mysql:root@tcp(h:3306)/test", "mysql:root@tcp(h:3306)/test?pool_max_conn_lifetime=0&application_name=demo+one"},
		{"sqlite", "sqlite3:file:/tmp/a.db?_busy_timeout=5000", "sqlite3:file:/tmp/a.db?_busy_timeout=5000&pool_max_conn_lifetime=0&application_name=demo+one"},
		{"sqlite memory", "sqlite3::memory:", "sqlite3::memory:?pool_max_conn_lifetime=0&application_name=demo+one"},
		{"sqlite path", "sqlite3:/tmp/a.db", "sqlite3:/tmp/a.db?pool_max_conn_lifetime=0&application_name=demo+one"},
	} {
		name, inner, _ := strings.Cut(tc.dsn, ":")
		got := name + ":" + withParams(inner, "pool_max_conn_lifetime", "0", "application_name", "demo one")
		if got != tc.want {
			t.Errorf("%s: withParams:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
		// sqlpool reads what was added where the demo meant it.
		if params, err := sqlpool.PoolParams(got); err != nil || params["pool_max_conn_lifetime"] != "0" {
			t.Errorf("%s: sqlpool.PoolParams(%q) = %v, %v; want pool_max_conn_lifetime 0", tc.name, got, params, err)
		}
		if _, raw, err := sqlpool.SplitDSN(got); err != nil || !setsParam(raw, "application_name") || strings.Contains(raw, "pool_") {
			t.Errorf("%s: sqlpool.SplitDSN(%q) = %q, %v; want application_name and no pool_*", tc.name, got, raw, err)
		}
	}

	for _, tc := range []struct {
		inner string
		want  bool
	}{
		{"host=h application_name=x", true},
		{"application_name = x host=h", true},
		{"postgres://h/db?application_name=x", true},
		{"postgres://h/db?sslmode=disable&application_name=x", true},
		{"postgres://h/db?fallback_application_name=x", false},
		{"postgres://h/db", false},
	} {
		if got := setsParam(tc.inner, "application_name"); got != tc.want {
			t.Errorf("setsParam(%q, application_name) = %v, want %v", tc.inner, got, tc.want)
		}
	}

	params := map[string]string{"pool_ping_idle_after": "3s"}
	if got := durationParam(params, "pool_ping_idle_after", time.Second); got != 3*time.Second {
		t.Errorf("durationParam of a set parameter: got %v, want 3s", got)
	}
	if got := durationParam(params, "pool_max_conn_lifetime", time.Hour); got != time.Hour {
		t.Errorf("durationParam without the parameter: got %v, want the default 1h", got)
	}
}

func TestDemoWithOTelExportsTracesAndMetrics(t *testing.T) {
	// An OTLP/HTTP collector: it counts the export requests by path.
	var (
		mu       sync.Mutex
		requests = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || (req.URL.Path != "/v1/traces" && req.URL.Path != "/v1/metrics") {
			http.NotFound(w, req)
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		requests[req.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")

	report := runDemo(t, "--otel", "--duration", "300ms", "--workers", "2", "--sizing=false")

	if want := "OpenTelemetry: exporting to " + srv.URL + "\n"; !strings.Contains(report, want) {
		t.Errorf("the report's header has no line %q", want)
	}
	// The demo flushed before it returned.
	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/v1/traces", "/v1/metrics"} {
		if requests[path] < 1 {
			t.Errorf("the collector got %d %s requests, want at least 1", requests[path], path)
		}
	}
}

// TestDemoOTelSucceedsAgainstACollectorOfTracesOnly: Jaeger's default
// configuration answers 404 to metrics; the demo still succeeds, says its
// spans went through, none dropped, and that the metrics did not.
func TestDemoOTelSucceedsAgainstACollectorOfTracesOnly(t *testing.T) {
	c := otlptest.StartTracesOnly(t)
	c.Env(t)
	report := runDemo(t, "--otel", "--duration", "300ms", "--workers", "8", "--sizing=false")
	if !strings.Contains(report, "OpenTelemetry: metrics not exported") || !strings.Contains(report, "OTEL_METRICS_EXPORTER=none") {
		t.Errorf("the report does not say the metrics were not exported")
	}
	if strings.Contains(report, "dropped") {
		t.Errorf("the report says spans were dropped")
	}
	var exported int
	for line := range strings.Lines(report) {
		if _, err := fmt.Sscanf(line, "OpenTelemetry: %d spans exported", &exported); err == nil {
			break
		}
	}
	if got := len(c.Spans()); exported == 0 || got != exported {
		t.Errorf("the report says %d spans exported, the collector got %d", exported, got)
	}
}
