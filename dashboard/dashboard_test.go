package dashboard

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/leakdetect"
	"github.com/sqlpool/sqlpool/pool"
)

// hostile is text an attacker might get into a pool name or a statement
// (a quoted identifier survives sanitizing): the page must show it as text.
const hostile = `</script><img src=x onerror=alert(1)>'; DROP TABLE users; --`

// get fetches url and returns the response and its body.
func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// serve mounts the dashboard as the README says and returns the server.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/sqlpool/", Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// leakyPool opens a pool named name on a new SQLite file, with a leak
// threshold of 100ms, and leaves the rows of a query open, waiting until
// they are a leak suspect. It returns the db and "file:line" of the query.
func leakyPool(t *testing.T, name string) (*sql.DB, string) {
	t.Helper()
	ctr, err := sqlpool.NewConnector("sqlite3:file:"+filepath.Join(t.TempDir(), "dash.db")+"?_journal_mode=WAL&pool_max_conns=3&pool_leak_threshold=100ms",
		sqlpool.WithName(name), sqlpool.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	t.Cleanup(func() { db.Close() })
	// One connection idle: held while the leak takes another, then given back.
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, file, line, _ := runtime.Caller(0)
	rows, err := db.Query(`SELECT 'l1teral' AS "`+hostile+`", ? AS b`, "b0und-argument") // the leak
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	c.Close()
	testdb.WaitFor(t, "the rows to be a leak suspect", func() bool { return ctr.Snapshot().Suspects == 1 })
	return db, file + ":" + strconv.Itoa(line+1)
}

func TestPageShowsThePoolItsGaugesAndTheStackOfTheLeakEscaped(t *testing.T) {
	name := "orders " + hostile
	_, at := leakyPool(t, name)
	srv := serve(t)

	resp, page := get(t, srv.URL+"/debug/sqlpool/?pool="+url(name))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET the page: got %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	escapedName := "orders &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&#39;; DROP TABLE users; --"
	for _, want := range []string{
		`<h2>` + escapedName + `</h2>`, // the name, as text
		`data-gauge="in_use"><span class="label">in use</span><span class="val">1<small> / 3 max</small>`,
		`data-gauge="idle"><span class="label">idle</span><span class="val">1</span>`,
		`data-gauge="waiting"><span class="label">waiting</span><span class="val">0</span>`,
		`1 leak suspect</span>`,
		`<span class="state suspect">leak suspect</span>`,
		`rows open`,
		`dashboard.leakyPool`, // the function that took it
		at,                    // and its line, in the stack
		`dashboard/dashboard_test.go:` + at[strings.LastIndexByte(at, ':')+1:],                                       // and, short, in the summary
		`SELECT ? AS &#34;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&#39;; DROP TABLE users; --&#34;, ? AS b`, // the statement, sanitized and escaped
		`<svg class="chart"`,
		`pool_leak_threshold</dt> = <dd>100ms</dd>`,
		`<meta http-equiv="refresh" content="5">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Its links keep the filter, escaped.
	jsonLink := regexp.MustCompile(`<a href="(json\?pool=[^"]+)">JSON</a>`).FindStringSubmatch(page)
	if jsonLink == nil {
		t.Errorf("the page has no JSON link keeping ?pool=")
	} else if resp, body := get(t, srv.URL+"/debug/sqlpool/"+html.UnescapeString(jsonLink[1])); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name": "orders \u003c/script\u003e`) {
		t.Errorf("the page's JSON link %q gives %s without the pool:\n%s", jsonLink[1], resp.Status, body)
	}
	if strings.Contains(page, "<img") || strings.Count(page, "</script>") != 1 {
		t.Errorf("the page has the hostile markup unescaped:\n%s", page)
	}
	for _, secret := range []string{"l1teral", "b0und-argument"} {
		if strings.Contains(page, secret) {
			t.Errorf("the page shows %q (a literal or a bound argument)", secret)
		}
	}
	// The suspect's stack is open; the origin frame is marked.
	if !regexp.MustCompile(`<details class="stack" id="[^"]+" open>`).MatchString(page) || !strings.Contains(page, `<li class="origin">github.com/sqlpool/sqlpool/dashboard.leakyPool <span class="at">`+at+`</span></li>`) {
		t.Errorf("the suspect's stack is not open with its origin frame marked:\n%s", page)
	}
}

func TestPageNeedsNoExternalAssetAndRunsOnlyItsOwnScript(t *testing.T) {
	leakyPool(t, "assets")
	srv := serve(t)
	resp, page := get(t, srv.URL+"/debug/sqlpool/")
	for _, bad := range []string{"<link", "@import", "url(", `href="http`, `href="//`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page loads something from elsewhere: it has %q", bad)
		}
	}
	if tag := regexp.MustCompile(`<[a-z]+(\s+[a-z-]+(="[^"]*")?)*\s+src=`).FindString(page); tag != "" {
		t.Errorf("the page loads something from elsewhere: it has %q", tag)
	}
	// The CSP allows exactly the one inline script, by its hash.
	m := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page has no inline script")
	}
	sum := sha256.Sum256([]byte(m[1]))
	csp := resp.Header.Get("Content-Security-Policy")
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy: got %q, want default-src 'none' and %q", csp, want)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
	}
}

func TestJSONHasTheSameDataForScripts(t *testing.T) {
	name := "json " + hostile
	_, at := leakyPool(t, name)
	srv := serve(t)

	resp, body := get(t, srv.URL+"/debug/sqlpool/json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET json: got %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "<") || strings.Contains(body, ">") {
		t.Errorf("the JSON has a raw < or >: a browser sniffing it as HTML would run it")
	}
	for _, secret := range []string{"l1teral", "b0und-argument"} {
		if strings.Contains(body, secret) {
			t.Errorf("the JSON shows %q (a literal or a bound argument)", secret)
		}
	}
	var doc report
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	var p *poolReport
	for i := range doc.Pools {
		if doc.Pools[i].Name == name {
			p = &doc.Pools[i]
		}
	}
	if p == nil {
		t.Fatalf("the JSON has no pool %q:\n%s", name, body)
	}
	if p.Max != 3 || p.InUse != 1 || p.Idle != 1 || p.Suspects != 1 || p.LeakThresholdSeconds != 0.1 || p.Settings["pool_max_conns"] != "3" || p.Driver != "sqlite3" {
		t.Errorf("pool: got max %d, in use %d, idle %d, suspects %d, threshold %vs, settings %v, driver %q; want 3, 1, 1, 1, 0.1, pool_max_conns 3, sqlite3",
			p.Max, p.InUse, p.Idle, p.Suspects, p.LeakThresholdSeconds, p.Settings, p.Driver)
	}
	if len(p.Conns) != 2 {
		t.Fatalf("conns: got %d, want 2", len(p.Conns))
	}
	c := p.Conns[0]
	if c.State != "in_use" || !c.Suspect || c.TakenAt != at || c.TakenBy != "github.com/sqlpool/sqlpool/dashboard.leakyPool" || c.Open != "rows" || len(c.Stack) == 0 || c.HeldSeconds == nil || *c.HeldSeconds < 0.1 {
		t.Errorf("first conn: got %+v, want in_use, a suspect held >= 0.1s, taken at %s by dashboard.leakyPool, with rows open and its stack", c, at)
	}
	if want := `SELECT ? AS "` + hostile + `", ? AS b`; c.Statement != want {
		t.Errorf("statement: got %q, want %q", c.Statement, want)
	}
	if idle := p.Conns[1]; idle.State != "idle" || idle.IdleSeconds == nil || idle.HeldSeconds != nil || idle.Stack != nil {
		t.Errorf("second conn: got %+v, want idle, with idle_seconds and no holder", idle)
	}
	if len(p.HeldBy) != 1 || p.HeldBy[0].TakenAt != at || p.HeldBy[0].Conns != 1 || p.HeldBy[0].Suspects != 1 {
		t.Errorf("held_by: got %+v, want one line, %s, 1 conn, 1 suspect", p.HeldBy, at)
	}

	// ?pool= keeps one pool.
	_, body = get(t, srv.URL+"/debug/sqlpool/json?pool="+url(name))
	doc = report{}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Pools) != 1 || doc.Pools[0].Name != name {
		t.Errorf("json?pool=: got %d pools, want only %q", len(doc.Pools), name)
	}
}

func TestJSONHistoryFillsOnceASecond(t *testing.T) {
	leakyPool(t, "history")
	srv := serve(t)
	testdb.WaitFor(t, "two samples of history", func() bool {
		_, body := get(t, srv.URL+"/debug/sqlpool/json?pool=history")
		var doc report
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		return len(doc.Pools) == 1 && len(doc.Pools[0].History) >= 2
	})
	_, body := get(t, srv.URL+"/debug/sqlpool/json?pool=history")
	var doc report
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	h := doc.Pools[0].History
	last := h[len(h)-1]
	if last.InUse != 1 || last.Idle != 1 || !last.At.After(h[len(h)-2].At) {
		t.Errorf("history: got last sample %+v, want 1 in use, 1 idle, after the one before", last)
	}
	_, page := get(t, srv.URL+"/debug/sqlpool/?pool=history")
	if !strings.Contains(page, "<polyline") || strings.Contains(page, "collecting") {
		t.Errorf("with history, the chart draws no line")
	}
}

func TestNoPasswordOnThePageOrInTheJSON(t *testing.T) {
	const password = "Pa55-w0rd-f0r-dashb0ard"
	u := testdb.PostgresURL(t)
	if !strings.Contains(u, "://postgres@") {
		t.Skipf("the PostgreSQL URL %q is not of the form postgres://postgres@…: cannot embed a password", u)
	}
	u = strings.Replace(u, "://postgres@", "://postgres:"+password+"@", 1)
	for _, inner := range []string{"postgres", "pgx"} {
		ctr, err := sqlpool.NewConnector(inner+":"+u+"&pool_leak_threshold=50ms&pool_name=secret-"+inner,
			sqlpool.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(ctr)
		defer db.Close()
		rows, err := db.Query("SELECT $1::text", password) // the password as a bound argument too
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		testdb.WaitFor(t, "a suspect", func() bool { return ctr.Snapshot().Suspects == 1 })
	}
	// A pool whose dials fail: its last error is shown.
	ctr, err := sqlpool.NewConnector("postgres:postgres://postgres:"+password+"@127.0.0.1:1/test?sslmode=disable&pool_name=secret-down&pool_acquire_timeout=200ms",
		sqlpool.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	down := sql.OpenDB(ctr)
	defer down.Close()
	if err := down.Ping(); err == nil {
		t.Fatal("Ping of a closed port succeeded")
	}

	srv := serve(t)
	_, page := get(t, srv.URL+"/debug/sqlpool/")
	_, js := get(t, srv.URL+"/debug/sqlpool/json")
	for what, text := range map[string]string{"the page": page, "the JSON": js} {
		for _, part := range []string{password, "Pa55", "dashb0ard"} {
			if strings.Contains(text, part) {
				i := strings.Index(text, part)
				t.Errorf("%s shows the password (%q): …%s…", what, part, text[max(0, i-200):min(len(text), i+100)])
			}
		}
		for _, want := range []string{"secret-postgres", "secret-pgx", "secret-down", "127.0.0.1:5432", "dials failing"} {
			if what == "the JSON" && want == "dials failing" {
				want = `"last_error"`
			}
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", what, want)
			}
		}
	}
}

func TestHandlerWorksUnderAnyPrefix(t *testing.T) {
	leakyPool(t, "prefixed")
	mux := http.NewServeMux()
	mux.Handle("/debug/sqlpool/", Handler())                       // routed on the path's end
	mux.Handle("/ops/db/", http.StripPrefix("/ops/db", Handler())) // stripped to "/…"
	mux.Handle("/ops/db", http.StripPrefix("/ops/db", Handler()))  // stripped to ""
	mux.Handle("/x/", http.StripPrefix("/x/", Handler()))          // stripped to "…"
	mux.HandleFunc("/", http.NotFound)                             // anything else
	srv := httptest.NewServer(mux)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, base := range []string{"/debug/sqlpool/", "/ops/db/", "/x/"} {
		resp, page := get(t, srv.URL+base)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h2>prefixed</h2>") {
			t.Errorf("GET %s: got %s, want the page", base, resp.Status)
		}
		// The page's links are relative: they work wherever it is mounted.
		for _, m := range regexp.MustCompile(`href="([^"#]+)"`).FindAllStringSubmatch(page, -1) {
			link := html.UnescapeString(m[1])
			if strings.HasPrefix(link, "/") || strings.Contains(link, ":") {
				t.Errorf("GET %s: the page links to %q, not relative", base, link)
				continue
			}
			if resp, _ := get(t, srv.URL+base+strings.TrimPrefix(link, "./")); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: its link %q gives %s", base, link, resp.Status)
			}
		}
		resp, body := get(t, srv.URL+base+"json")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name": "prefixed"`) {
			t.Errorf("GET %sjson: got %s, want the JSON", base, resp.Status)
		}
		if resp, _ := get(t, srv.URL+base+"nope"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %snope: got %s, want 404", base, resp.Status)
		}
		post, err := http.Post(srv.URL+base, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		post.Body.Close()
		if post.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: got %s, want 405", base, post.Status)
		}
	}
	// Without its slash, the mount point redirects to it.
	resp, err := noRedirect.Get(srv.URL + "/ops/db?refresh=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "/ops/db/?refresh=0" {
		t.Errorf("GET /ops/db: got %s to %q, want a redirect to /ops/db/?refresh=0", resp.Status, loc)
	}
}

func TestRefreshCanBeChangedAndPaused(t *testing.T) {
	srv := serve(t)
	for query, want := range map[string]string{
		"":              `<meta http-equiv="refresh" content="5">`,
		"?refresh=2":    `<meta http-equiv="refresh" content="2">`,
		"?refresh=junk": `<meta http-equiv="refresh" content="5">`,
	} {
		if _, page := get(t, srv.URL+"/debug/sqlpool/"+query); !strings.Contains(page, want) || !strings.Contains(page, `<a href="./?refresh=0">pause</a>`) {
			t.Errorf("GET %q: the page lacks %q or the pause link", query, want)
		}
	}
	_, page := get(t, srv.URL+"/debug/sqlpool/?refresh=0")
	if strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, `paused · <a href="./">resume</a>`) {
		t.Errorf("?refresh=0: the page still reloads, or has no resume link")
	}
}

// fakeSnapshots is a process with one big pool: hundreds of connections,
// most in use, taken from three lines, some held past the threshold.
func fakeSnapshots(now time.Time) []sqlpool.Snapshot {
	frames := func(fn, file string, line int) []leakdetect.Frame {
		return []leakdetect.Frame{
			{Function: "database/sql.(*DB).conn", File: "/go/src/database/sql/sql.go", Line: 1431},
			{Function: fn, File: file, Line: line},
			{Function: "main.main", File: "/app/main.go", Line: 10},
		}
	}
	s := sqlpool.Snapshot{
		Stat:          sqlpool.Stat{Name: "big", Stat: pool.Stat{MaxSize: 400, Total: 400, InUse: 300, Idle: 100, Waiting: 250}},
		TakenAt:       now,
		Driver:        "pgx",
		System:        "postgresql",
		Settings:      []sqlpool.Setting{{Name: "pool_max_conns", Value: "400"}, {Name: "pool_leak_threshold", Value: "1m"}},
		LeakThreshold: time.Minute,
	}
	lines := []struct {
		fn, file string
		line     int
	}{{"github.com/acme/orders/store.(*Store).List", "/app/store/list.go", 42}, {"github.com/acme/orders/api.export", "/app/api/export.go", 7}, {"main.report", "/app/report.go", 99}}
	for i := range 400 {
		c := sqlpool.ConnInfo{ID: uint64(i + 1), State: pool.ResourceIdle, CreatedAt: now.Add(-time.Hour), IdleSince: now.Add(-time.Second), ExpiresAt: now.Add(time.Minute), Uses: int64(i)}
		if i < 300 {
			l := lines[i%3]
			held := time.Duration(i) * 100 * time.Millisecond
			if i < 20 {
				held = 5 * time.Minute
			}
			c.State, c.IdleSince, c.AcquiredAt = pool.ResourceInUse, time.Time{}, now.Add(-held)
			c.Suspect = held >= time.Minute
			loc := fmt.Sprintf("%s:%d", l.file, l.line)
			c.Borrow = &leakdetect.Report{Conn: c.ID, Since: c.AcquiredAt, HeldFor: held, Open: "tx", Statement: "SELECT * FROM orders WHERE id = ?", AcquiredAt: loc, Stack: frames(l.fn, l.file, l.line)}
			if c.Suspect {
				s.Suspects++
			}
		}
		s.Conns = append(s.Conns, c)
	}
	for i := range 120 {
		s.History = append(s.History, sqlpool.Sample{At: now.Add(time.Duration(i-120) * time.Second), InUse: 300, Waiting: i * 2, Waits: 10, WaitTime: time.Duration(i) * 10 * time.Millisecond})
	}
	return []sqlpool.Snapshot{s}
}

func TestPageStaysReadableWithHundredsOfConnections(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := handler{snapshots: func() []sqlpool.Snapshot { return fakeSnapshots(now) }, now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()

	if n := len(page); n > 1<<20 {
		t.Errorf("the page is %d bytes for 400 connections, want under 1 MiB", n)
	}
	if got := strings.Count(page, `<details class="stack"`); got != 300 {
		t.Errorf("stacks: got %d, want one per connection in use (300)", got)
	}
	if got := regexp.MustCompile(`<details class="stack" id="[^"]+" open>`).FindAllString(page, -1); len(got) != maxOpenStacks {
		t.Errorf("open stacks: got %d, want the first %d suspects' only", len(got), maxOpenStacks)
	}
	if !strings.Contains(page, `<details class="idle-list" id="pool-`) || strings.Contains(page, `-idle" open>`) || !strings.Contains(page, "100 idle connections") {
		t.Errorf("100 idle connections are not folded away")
	}
	// The holders' table sums up who holds them: three lines, most first.
	holders := regexp.MustCompile(`(?s)<table class="holders">.*?</table>`).FindString(page)
	if got := strings.Count(holders, "<tr"); got != 4 { // header and three lines
		t.Errorf("holders: got %d rows, want a header and 3 lines:\n%s", got, holders)
	}
	for _, want := range []string{"store.(*Store).List", "store/list.go:42", "api.export", "main.report"} {
		if !strings.Contains(holders, want) {
			t.Errorf("holders lack %q", want)
		}
	}
	for _, want := range []string{`<span class="badge bad">20 leak suspects</span>`, `<polygon`, "operations waiting"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestPageSaysAPoolIsExhausted(t *testing.T) {
	now := time.Now()
	s := sqlpool.Snapshot{Stat: sqlpool.Stat{Name: "full", Stat: pool.Stat{MaxSize: 4, Total: 4, InUse: 4, Waiting: 9}}, TakenAt: now}
	h := handler{snapshots: func() []sqlpool.Snapshot { return []sqlpool.Snapshot{s} }, now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	for _, want := range []string{`<span class="badge bad">exhausted</span>`, `<div class="gauge wide full" data-gauge="in_use">`, `<div class="gauge hot" data-gauge="waiting"><span class="label">waiting</span><span class="val">9</span>`, `<title>sqlpool: 4/4 in use, 9 waiting</title>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page of an exhausted pool lacks %q", want)
		}
	}
}

func TestChartSaysItIsCollectingBeforeTwoSamples(t *testing.T) {
	now := time.Now()
	s := sqlpool.Snapshot{Stat: sqlpool.Stat{Name: "new", Stat: pool.Stat{MaxSize: 4}}, History: []sqlpool.Sample{{At: now}}}
	c := newChart(&s, now)
	if !strings.Contains(string(c.SVG), "collecting") || strings.Contains(string(c.SVG), "<polyline") {
		t.Errorf("chart of one sample: got %s, want it to say it is collecting", c.SVG)
	}
}

func TestFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 300 * time.Microsecond: "300µs", 2300 * time.Microsecond: "2.3ms", 850 * time.Millisecond: "850ms",
		2300 * time.Millisecond: "2.3s", 42 * time.Second: "42s", 245 * time.Second: "4m05s", 123 * time.Minute: "2h03m",
		76 * time.Hour: "3d04h", -5 * time.Second: "−5.0s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
	for v, want := range map[float64]float64{0: 1, 0.7: 1, 3: 5, 7: 10, 12: 20, 0.0013: 0.002, 1: 1} {
		if got := niceCeil(v); got < want*0.999 || got > want*1.001 {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	if got := shortFunc("github.com/acme/orders/store.(*Store).Get"); got != "store.(*Store).Get" {
		t.Errorf("shortFunc: got %q", got)
	}
	if got := shortLocation("/src/app/store/get.go:12"); got != "store/get.go:12" {
		t.Errorf("shortLocation: got %q", got)
	}
}

// url escapes s for a query string.
func url(s string) string { return urlQueryEscape(s) }

// await polls cond every 10ms until it holds, failing the test after a
// minute with what describe says: the pool's sampler takes a sample a
// second, and the advice wants five.
func await(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after a minute waiting for %s; last:\n%s", what, describe())
		}
	}
}

// exhaustedPool opens a pool named name of two connections on a new SQLite
// file, with alerts over 200ms, holds both connections and, until the test
// ends, keeps asking for a third, which times out at pool_acquire_timeout
// (20ms): every acquire waits, the pool is exhausted and undersized.
func exhaustedPool(t *testing.T, name string) *sqlpool.Connector {
	t.Helper()
	ctr, err := sqlpool.NewConnector("sqlite3:file:"+filepath.Join(t.TempDir(), "sizing.db")+"?_journal_mode=WAL&pool_max_conns=2&pool_acquire_timeout=20ms&pool_alert_window=200ms",
		sqlpool.WithName(name), sqlpool.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		db.Close()
	})
	for range 2 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := db.PingContext(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, sqlpool.ErrAcquireTimeout) {
				t.Errorf("a third acquire: got %v, want %v", err, sqlpool.ErrAcquireTimeout)
				return
			}
		}
	}()
	return ctr
}

// decodePools returns the pools of the JSON document body, each as a map,
// keyed by name.
func decodePools(t *testing.T, body string) map[string]map[string]any {
	t.Helper()
	var doc struct{ Pools []map[string]any }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("the JSON does not decode: %v\n%s", err, body)
	}
	out := map[string]map[string]any{}
	for _, p := range doc.Pools {
		out[p["name"].(string)] = p
	}
	return out
}

// sizingKeys and alertKeys are the keys of "sizing" and of each of
// "alerts", as docs/dashboard.md lists them ("warning" only when set).
var (
	sizingKeys = []string{"arrival_rate", "hold_mean_seconds", "hold_p99_seconds", "busy_mean", "busy_p99", "waited_share", "wait_p99_seconds", "timeouts",
		"max_conns", "recommended_max_conns", "server_limit", "pools_on_server", "verdict", "reason", "window_seconds"}
	alertKeys = []string{"name", "firing", "since", "value", "threshold", "message"}
)

// keys returns m's keys, sorted.
func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestJSONAndPageShowTheAdviceAndTheAlertsOfAnExhaustedPool(t *testing.T) {
	const name = "sizing-exhausted"
	exhaustedPool(t, name)
	srv := serve(t)

	var p map[string]any
	var body string
	firing := func(name string) bool {
		for _, a := range p["alerts"].([]any) {
			if a := a.(map[string]any); a["name"] == name {
				return a["firing"] == true
			}
		}
		return false
	}
	await(t, "the advice to call the pool undersized and its utilization and exhaustion alerts to fire", func() bool {
		_, body = get(t, srv.URL+"/debug/sqlpool/json?pool="+name)
		p = decodePools(t, body)[name]
		return p["sizing"].(map[string]any)["verdict"] == string(sqlpool.VerdictUndersized) && firing(sqlpool.AlertUtilization) && firing(sqlpool.AlertExhaustion)
	}, func() string { return body })
	t.Logf("the pool's sizing and alerts:\n%s", body[strings.Index(body, `"sizing"`):])

	sz := p["sizing"].(map[string]any)
	if got := keys(sz); !slices.Equal(got, sorted(sizingKeys)) {
		t.Errorf("sizing's keys: got %q, want %q", got, sorted(sizingKeys))
	}
	if sz["max_conns"] != 2.0 || sz["recommended_max_conns"].(float64) <= 2 || sz["timeouts"].(float64) < 1 || sz["waited_share"] != 1.0 ||
		sz["pools_on_server"] != 1.0 || sz["server_limit"] != 0.0 || sz["window_seconds"].(float64) <= 0 {
		t.Errorf("sizing: got %v, want max_conns 2, recommended_max_conns > 2, timeouts >= 1, waited_share 1, pools_on_server 1, server_limit 0 (SQLite), window_seconds > 0", sz)
	}
	reason := sz["reason"].(string)
	if want := "more than pool_max_conns=2; 100% of acquires waited"; !strings.Contains(reason, want) || !strings.HasSuffix(reason, fmt.Sprintf("set pool_max_conns=%.0f", sz["recommended_max_conns"])) {
		t.Errorf("reason: got %q, want it to say %q and to end with the recommendation", reason, want)
	}

	alerts := p["alerts"].([]any)
	var names []string
	for _, a := range alerts {
		a := a.(map[string]any)
		names = append(names, a["name"].(string))
		if got := keys(a); !slices.Equal(got, sorted(alertKeys)) {
			t.Errorf("alert %v: keys %q, want %q", a["name"], got, sorted(alertKeys))
		}
		if a["firing"] == true {
			since, err := time.Parse(time.RFC3339, a["since"].(string))
			if err != nil || time.Since(since) < 0 || a["message"] == "" {
				t.Errorf("firing alert %v: got since %v (%v), message %q; want an RFC 3339 time in the past and a message", a["name"], a["since"], err, a["message"])
			}
		} else if a["since"] != nil {
			t.Errorf("alert %v, not firing: got since %v, want null (it never fired)", a["name"], a["since"])
		}
	}
	if want := []string{sqlpool.AlertUtilization, sqlpool.AlertWait, sqlpool.AlertExhaustion, sqlpool.AlertAcquireTimeouts, sqlpool.AlertDialErrors}; !slices.Equal(names, want) {
		t.Errorf("alerts: got %q, want every alert, on by default, in the order %q", names, want)
	}

	// The page says the same: the verdict, the reason, the alerts firing
	// and, on the chart, when they fired.
	_, page := get(t, srv.URL+"/debug/sqlpool/?pool="+name)
	for _, want := range []string{
		`<p class="sizing" data-verdict="undersized"><span class="badge bad">undersized</span>`,
		`more than pool_max_conns=2; 100% of acquires waited`,
		`<p class="alert" data-alert="utilization"><span class="badge bad">utilization</span>100% of pool_max_conns=2 in use on average over the last 200ms`,
		`<p class="alert" data-alert="exhaustion"><span class="badge bad">exhaustion</span>acquires waited with all 2 connections in use`,
		`alerts firing</span>`,
		`<g class="alert-mark" data-alerts="`,
		`>utilization</text>`,
		`>exhaustion</text>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `<span class="badge ok">ok</span>`) {
		t.Errorf("the page says ok of a pool whose alerts fire")
	}
}

// advisedSnapshot is a pool of 4 that the advice calls undersized, with a
// warning, two alerts firing (one since before the chart's window), one
// that fired and cleared, one that never fired, and the events of them all.
func advisedSnapshot(now time.Time) sqlpool.Snapshot {
	s := sqlpool.Snapshot{
		Stat:    sqlpool.Stat{Name: "advised", Stat: pool.Stat{MaxSize: 4, Total: 4, InUse: 4, Waiting: 3}},
		TakenAt: now,
		Advice: sqlpool.Advice{
			Window: 90 * time.Second, ArrivalRate: 120, HoldMean: 50 * time.Millisecond, HoldP99: 180 * time.Millisecond,
			BusyMean: 6, BusyP99: 7.5, WaitedShare: 0.625, WaitP99: 1500 * time.Millisecond, Timeouts: 7,
			MaxConns: 4, MinConns: 0, RecommendedMaxConns: 12, ServerLimit: 20, PoolsOnServer: 6,
			Verdict: sqlpool.VerdictUndersized,
			Reason:  "120.0 acquires/s held 50ms on average keep 6.0 connections busy (p99 7.5), more than pool_max_conns=4; 62% of acquires waited (p99 1.5s), 7 timed out: set pool_max_conns=12 <now>",
			Warning: "6 pools × pool_max_conns=4 could open 24 connections, more than the 20 the server allows this user",
		},
		Alerts: []sqlpool.Alert{
			{Name: sqlpool.AlertUtilization, Firing: true, Since: now.Add(-20 * time.Second), Value: 0.95, Threshold: 0.8, Message: "95% of pool_max_conns=4 in use on average over the last 1m (pool_alert_utilization=0.8)"},
			{Name: sqlpool.AlertWait, Firing: false, Since: now.Add(-10 * time.Second), Value: 0.1, Threshold: 0.25, Message: "the p99 wait for a connection was 100ms over the last 1m (pool_alert_wait=250ms)"},
			{Name: sqlpool.AlertExhaustion, Firing: true, Since: now.Add(-time.Hour), Value: 0.5, Message: "acquires waited with all 4 connections in use in 30 of the last 60 samples (1m)"},
			{Name: sqlpool.AlertAcquireTimeouts, Message: "0 acquires timed out at pool_acquire_timeout=30s in the last 1m"},
		},
		AlertEvents: []sqlpool.Alert{
			{Name: sqlpool.AlertExhaustion, Firing: true, Since: now.Add(-time.Hour)}, // before the chart's window
			{Name: sqlpool.AlertWait, Firing: true, Since: now.Add(-40 * time.Second)},
			{Name: sqlpool.AlertUtilization, Firing: true, Since: now.Add(-20 * time.Second)},
			{Name: sqlpool.AlertWait, Firing: false, Since: now.Add(-10 * time.Second)}, // a clearing
		},
	}
	for i := range 60 {
		s.History = append(s.History, sqlpool.Sample{At: now.Add(time.Duration(i-59) * time.Second), InUse: 4, Waiting: i % 5, MaxConns: 4})
	}
	return s
}

func TestJSONSizingAndAlertsCarryTheAdviceAndEachAlertAsTheyStand(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := handler{snapshots: func() []sqlpool.Snapshot {
		return []sqlpool.Snapshot{advisedSnapshot(now), {Stat: sqlpool.Stat{Name: "quiet"}, TakenAt: now}}
	}, now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/json", nil))
	pools := decodePools(t, rec.Body.String())

	sz := pools["advised"]["sizing"].(map[string]any)
	want := map[string]any{
		"arrival_rate": 120.0, "hold_mean_seconds": 0.05, "hold_p99_seconds": 0.18, "busy_mean": 6.0, "busy_p99": 7.5,
		"waited_share": 0.625, "wait_p99_seconds": 1.5, "timeouts": 7.0, "max_conns": 4.0, "recommended_max_conns": 12.0,
		"server_limit": 20.0, "pools_on_server": 6.0, "verdict": "undersized", "window_seconds": 90.0,
		"reason":  "120.0 acquires/s held 50ms on average keep 6.0 connections busy (p99 7.5), more than pool_max_conns=4; 62% of acquires waited (p99 1.5s), 7 timed out: set pool_max_conns=12 <now>",
		"warning": "6 pools × pool_max_conns=4 could open 24 connections, more than the 20 the server allows this user",
	}
	if got, wantKeys := keys(sz), sorted(append(sizingKeys, "warning")); !slices.Equal(got, wantKeys) {
		t.Errorf("sizing's keys: got %q, want %q", got, wantKeys)
	}
	for k, v := range want {
		if sz[k] != v {
			t.Errorf("sizing.%s: got %v, want %v", k, sz[k], v)
		}
	}

	type alert struct {
		Name      string
		Firing    bool
		Since     *time.Time
		Value     float64
		Threshold float64
		Message   string
	}
	var got []alert
	raw, _ := json.Marshal(pools["advised"]["alerts"])
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	wantAlerts := []alert{
		{sqlpool.AlertUtilization, true, at(-20 * time.Second), 0.95, 0.8, "95% of pool_max_conns=4 in use on average over the last 1m (pool_alert_utilization=0.8)"},
		{sqlpool.AlertWait, false, at(-10 * time.Second), 0.1, 0.25, "the p99 wait for a connection was 100ms over the last 1m (pool_alert_wait=250ms)"},
		{sqlpool.AlertExhaustion, true, at(-time.Hour), 0.5, 0, "acquires waited with all 4 connections in use in 30 of the last 60 samples (1m)"},
		{sqlpool.AlertAcquireTimeouts, false, nil, 0, 0, "0 acquires timed out at pool_acquire_timeout=30s in the last 1m"},
	}
	if len(got) != len(wantAlerts) {
		t.Fatalf("alerts: got %d, want %d: %+v", len(got), len(wantAlerts), got)
	}
	for i, w := range wantAlerts {
		g := got[i]
		if g.Name != w.Name || g.Firing != w.Firing || (g.Since == nil) != (w.Since == nil) || g.Since != nil && !g.Since.Equal(*w.Since) || g.Value != w.Value || g.Threshold != w.Threshold || g.Message != w.Message {
			t.Errorf("alerts[%d]: got %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(rec.Body.String(), `"since": "2026-01-02T03:03:45Z"`) || !strings.Contains(rec.Body.String(), `"since": null`) {
		t.Errorf("since: want RFC 3339 times, and null for an alert that never fired:\n%s", rec.Body.String())
	}

	// A pool with its alerts off, and no advice: "alerts" is [], not null;
	// "sizing" is there, without a warning.
	quiet := pools["quiet"]
	if a, ok := quiet["alerts"].([]any); !ok || len(a) != 0 {
		t.Errorf("alerts of a pool with none: got %#v, want []", quiet["alerts"])
	}
	if got := keys(quiet["sizing"].(map[string]any)); !slices.Equal(got, sorted(sizingKeys)) {
		t.Errorf("sizing's keys without a warning: got %q, want %q", got, sorted(sizingKeys))
	}
}

func TestPageShowsTheVerdictTheAlertsFiringAndWhereTheyFiredOnTheChart(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	quiet := sqlpool.Snapshot{Stat: sqlpool.Stat{Name: "quiet", Stat: pool.Stat{MaxSize: 2}}, TakenAt: now, Advice: sqlpool.Advice{Verdict: sqlpool.VerdictNotEnoughData}}
	h := handler{snapshots: func() []sqlpool.Snapshot { return []sqlpool.Snapshot{advisedSnapshot(now), quiet} }, now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()

	for _, want := range []string{
		// The overview: how many alerts fire, and what the advice says.
		`<td class="n" title="firing: utilization exhaustion"><b class="nz">2</b></td><td>undersized → max 12</td></tr>`,
		`<td class="n">0</td><td><span class="none">not enough data</span></td></tr>`,
		`<p class="sizing" data-verdict="undersized"><span class="badge bad">undersized</span>120.0 acquires/s held 50ms on average keep 6.0 connections busy (p99 7.5), more than pool_max_conns=4; 62% of acquires waited (p99 1.5s), 7 timed out: set pool_max_conns=12 &lt;now&gt;<span class="win">sizing advice, last 1m30s</span></p>`,
		`<p class="sizing warning">6 pools × pool_max_conns=4 could open 24 connections, more than the 20 the server allows this user</p>`,
		`<p class="alert" data-alert="utilization"><span class="badge bad">utilization</span>95% of pool_max_conns=4 in use on average over the last 1m (pool_alert_utilization=0.8)<span class="when">firing for 20s</span></p>`,
		`<p class="alert" data-alert="exhaustion"><span class="badge bad">exhaustion</span>acquires waited with all 4 connections in use in 30 of the last 60 samples (1m)<span class="when">firing for 1h00m</span></p>`,
		`<span class="badge bad">2 alerts firing</span>`,
		`<title>sqlpool: 4/6 in use, 3 waiting, 2 alerts firing</title>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	advised := regexp.MustCompile(`(?s)<section class="pool" id="[^"]+" data-pool="advised">.*?</section>`).FindString(page)
	for _, unwanted := range []string{`data-alert="wait"`, `data-alert="acquire_timeouts"`, `<span class="badge ok">`} {
		if strings.Contains(advised, unwanted) {
			t.Errorf("the page has %q: only the alerts firing show, and a pool with alerts firing is not ok", unwanted)
		}
	}

	// The chart marks the two that fired within its minute, where they
	// fired; not the exhaustion of an hour ago, nor the clearing.
	chart := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`).FindString(advised)
	marks := regexp.MustCompile(`<g class="alert-mark" data-alerts="([^"]+)"><title>[^<]*</title><line x1="([0-9.]+)"`).FindAllStringSubmatch(chart, -1)
	if len(marks) != 2 {
		t.Fatalf("chart marks: got %d, want 2 (wait at −40s, utilization at −20s):\n%s", len(marks), chart)
	}
	// The window is the history's 59s: −40s is at 19/59 of the width, −20s at 39/59.
	for i, w := range []struct {
		name string
		x    float64
	}{{"wait", chartW * 19 / 59}, {"utilization", chartW * 39 / 59}} {
		x, _ := strconv.ParseFloat(marks[i][2], 64)
		if marks[i][1] != w.name || x < w.x-0.1 || x > w.x+0.1 {
			t.Errorf("mark %d: got %s at x=%.1f, want %s at %.1f", i, marks[i][1], x, w.name, w.x)
		}
	}
}

func TestChartNamesAlertsThatFireCloseTogetherOnRowsOfTheirOwn(t *testing.T) {
	now := time.Now()
	s := sqlpool.Snapshot{Stat: sqlpool.Stat{Name: "close", Stat: pool.Stat{MaxSize: 4}}}
	for i := range 60 {
		s.History = append(s.History, sqlpool.Sample{At: now.Add(time.Duration(i-59) * time.Second), InUse: 4, MaxConns: 4})
	}
	s.AlertEvents = []sqlpool.Alert{
		{Name: sqlpool.AlertExhaustion, Firing: true, Since: now.Add(-30 * time.Second)},
		{Name: sqlpool.AlertAcquireTimeouts, Firing: true, Since: now.Add(-29 * time.Second)}, // 13 units right: its name would run into the one before
		{Name: sqlpool.AlertWait, Firing: true, Since: now.Add(-29 * time.Second)},            // the same line as the one before
		{Name: sqlpool.AlertUtilization, Firing: true, Since: now.Add(time.Second)},           // after now: not in the chart
	}
	svg := string(newChart(&s, now).SVG)
	if got := strings.Count(svg, `<g class="alert-mark"`); got != 2 {
		t.Fatalf("marks: got %d, want 2 (one line shared by two alerts):\n%s", got, svg)
	}
	if !strings.Contains(svg, `data-alerts="acquire_timeouts wait"`) {
		t.Errorf("the alerts that fired at one time do not share their line:\n%s", svg)
	}
	ys := map[string]string{}
	for _, m := range regexp.MustCompile(`<text x="[0-9.]+" y="([0-9.]+)" class="ca" text-anchor="start">([a-z_]+)</text>`).FindAllStringSubmatch(svg, -1) {
		ys[m[2]] = m[1]
	}
	if len(ys) != 3 || ys["exhaustion"] == ys["acquire_timeouts"] || ys["acquire_timeouts"] == ys["wait"] {
		t.Errorf("names' rows: got %v, want exhaustion, acquire_timeouts and wait each on a row of its own", ys)
	}
}
