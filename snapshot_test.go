package sqlpool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// snapConnector is a driver.Connector configured in code, for Wrap.
type snapConnector struct{ dsn string }

func (c snapConnector) Connect(context.Context) (driver.Conn, error) {
	return (&sqlite3.SQLiteDriver{}).Open(c.dsn)
}
func (c snapConnector) Driver() driver.Driver { return &sqlite3.SQLiteDriver{} }

// snapshotNamed returns the snapshot of the open pool named name from
// sqlpool.Snapshots, and whether there is one.
func snapshotNamed(name string) (sqlpool.Snapshot, bool) {
	for _, s := range sqlpool.Snapshots() {
		if s.Name == name {
			return s, true
		}
	}
	return sqlpool.Snapshot{}, false
}

func TestSnapshotsAndStatsListEveryOpenPoolWhateverOpenedIt(t *testing.T) {
	dir := t.TempDir()
	prefix := strings.ReplaceAll(t.Name(), "/", "_")
	opened, err := sql.Open("sqlpool", "sqlite3:file:"+filepath.Join(dir, "a.db")+"?pool_name="+prefix+"-c-open")
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	ctr, err := sqlpool.NewConnector("sqlite3:file:" + filepath.Join(dir, "b.db") + "?pool_name=" + prefix + "-b-connector")
	if err != nil {
		t.Fatal(err)
	}
	fromConnector := sql.OpenDB(ctr)
	defer fromConnector.Close()
	wrapped, err := sqlpool.Wrap(snapConnector{filepath.Join(dir, "c.db")}, sqlpool.WithName(prefix+"-a-wrap"))
	if err != nil {
		t.Fatal(err)
	}
	fromWrap := sql.OpenDB(wrapped)
	defer fromWrap.Close()

	want := []string{prefix + "-a-wrap", prefix + "-b-connector", prefix + "-c-open"}
	mine := func(names []string) []string {
		return slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, prefix) })
	}
	var snapNames, statNames []string
	for _, s := range sqlpool.Snapshots() {
		snapNames = append(snapNames, s.Name)
	}
	for _, s := range sqlpool.Snapshots() {
		statNames = append(statNames, s.Name)
	}
	if got := mine(snapNames); !slices.Equal(got, want) {
		t.Errorf("Snapshots: got pools %q, want %q, by name", got, want)
	}
	if got := mine(statNames); !slices.Equal(got, want) {
		t.Errorf("Stats: got pools %q, want %q, by name", got, want)
	}
	if s, _ := snapshotNamed(prefix + "-a-wrap"); s.Driver != "*sqlite3.SQLiteDriver" || s.System != "sqlite" {
		t.Errorf("Wrap's snapshot: got driver %q, system %q; want *sqlite3.SQLiteDriver, sqlite", s.Driver, s.System)
	}

	fromConnector.Close()
	fromWrap.Close()
	opened.Close()
	if _, ok := snapshotNamed(prefix + "-b-connector"); ok {
		t.Error("Snapshots still lists a closed NewConnector pool")
	}
	if _, ok := snapshotNamed(prefix + "-a-wrap"); ok {
		t.Error("Snapshots still lists a closed Wrap pool")
	}
}

func TestSnapshotShowsWhoHoldsEachConnectionAndSinceWhen(t *testing.T) {
	const threshold = 200 * time.Millisecond
	name := strings.ReplaceAll(t.Name(), "/", "_")
	ctr, err := sqlpool.NewConnector(fmt.Sprintf("sqlite3:file:%s?_journal_mode=WAL&pool_name=%s&pool_max_conns=3&pool_leak_threshold=%v&pool_max_conn_lifetime=1h&pool_max_conn_lifetime_jitter=0",
		filepath.Join(t.TempDir(), "snap.db"), name, threshold), sqlpool.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	ctx := context.Background()

	// Two connections used and given back, then one taken by rows left open.
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*sql.Conn{c1, c2} {
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c1.Close()
	c2.Close()
	start := time.Now()
	at := nextLine()
	rows, err := db.QueryContext(ctx, "SELECT 'hunter2-literal' AS x WHERE 1 = ?", "bound-arg-value")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	s := ctr.Snapshot()
	if s.Name != name || s.Driver != "sqlite3" || s.System != "sqlite" || !strings.HasSuffix(s.Namespace, "snap.db") || s.LeakThreshold != threshold {
		t.Errorf("Snapshot: got name %q, driver %q, system %q, namespace %q, threshold %v", s.Name, s.Driver, s.System, s.Namespace, s.LeakThreshold)
	}
	if len(s.Conns) != 2 || s.Total != 2 {
		t.Fatalf("Snapshot: got %d connections (Total %d), want 2: %+v", len(s.Conns), s.Total, s.Conns)
	}
	held, idle := s.Conns[0], s.Conns[1]
	if held.State != pool.ResourceInUse || held.AcquiredAt.Before(start) || !held.IdleSince.IsZero() {
		t.Errorf("first connection: got state %v, acquired at %v, idle since %v; want in use first, taken after %v", held.State, held.AcquiredAt, held.IdleSince, start)
	}
	if idle.State != pool.ResourceIdle || idle.IdleSince.IsZero() || !idle.AcquiredAt.IsZero() || idle.Uses != 1 {
		t.Errorf("second connection: got state %v, idle since %v, acquired at %v, %d uses; want idle, used once", idle.State, idle.IdleSince, idle.AcquiredAt, idle.Uses)
	}
	for _, c := range s.Conns {
		if c.ID < 1 || c.ID > 2 || !c.ExpiresAt.Equal(c.CreatedAt.Add(time.Hour)) {
			t.Errorf("connection %d: got created %v, expires %v; want IDs 1 and 2, expiring an hour after creation", c.ID, c.CreatedAt, c.ExpiresAt)
		}
	}
	b := held.Borrow
	if b == nil {
		t.Fatal("the connection in use has no Borrow with leak detection on")
	}
	if b.AcquiredAt != at || b.Open != "rows" || b.Conn != held.ID || len(b.Stack) == 0 {
		t.Errorf("Borrow: got acquired at %q, open %q, conn %d, %d frames; want %s, rows, %d, a stack", b.AcquiredAt, b.Open, b.Conn, len(b.Stack), at, held.ID)
	}
	if b.Statement != "SELECT ? AS x WHERE ? = ?" {
		t.Errorf("Borrow.Statement: got %q, want the literals replaced: %q", b.Statement, "SELECT ? AS x WHERE ? = ?")
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "bound-arg-value"} {
		if strings.Contains(string(js), secret) || strings.Contains(fmt.Sprintf("%+v", s), secret) {
			t.Errorf("the snapshot shows %q, a literal or a bound argument:\n%s", secret, js)
		}
	}
	if held.Suspect && held.HeldFor(s.TakenAt) < threshold {
		t.Errorf("the connection held for %v is a suspect before the threshold %v", held.HeldFor(s.TakenAt), threshold)
	}

	// Past the threshold it is a suspect.
	testdb.WaitFor(t, "the held connection to be a suspect, and reported", func() bool {
		s = ctr.Snapshot()
		return s.Suspects == 1 && s.Leaks == 1
	})
	if !s.Conns[0].Suspect || s.Conns[0].HeldFor(s.TakenAt) < threshold {
		t.Errorf("after the threshold: got first connection suspect %v, held %v; want a suspect held >= %v", s.Conns[0].Suspect, s.Conns[0].HeldFor(s.TakenAt), threshold)
	}

	settings := map[string]string{}
	for _, st := range s.Settings {
		settings[st.Name] = st.Value
	}
	for k, v := range map[string]string{
		"pool_max_conns": "3", "pool_leak_threshold": "200ms", "pool_max_conn_lifetime": "1h", "pool_max_conn_lifetime_jitter": "0",
		"pool_acquire_timeout": "30s", "pool_name": name, "pool_trace_query_text": "auto", "pool_max_conn_idle_time": "30m",
	} {
		if settings[k] != v {
			t.Errorf("Settings[%s]: got %q, want %q", k, settings[k], v)
		}
	}

	rows.Close()
	s = ctr.Snapshot()
	if s.Suspects != 0 || s.Conns[0].State != pool.ResourceIdle || s.Conns[0].Borrow != nil {
		t.Errorf("after rows.Close: got %d suspects, first connection %v with borrow %v; want none, idle", s.Suspects, s.Conns[0].State, s.Conns[0].Borrow)
	}
}

func TestSnapshotWithQueryTextOffShowsNoStatement(t *testing.T) {
	ctr, err := sqlpool.NewConnector("sqlite3:file:"+filepath.Join(t.TempDir(), "off.db")+"?pool_trace_query_text=off&pool_leak_threshold=1m",
		sqlpool.WithValidationQuery("SELECT 'v4lidation'"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	rows, err := db.Query("SELECT 42")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	s := ctr.Snapshot()
	if len(s.Conns) != 1 || s.Conns[0].Borrow == nil {
		t.Fatalf("Snapshot: got %+v, want one connection in use, with its borrow", s.Conns)
	}
	if got := s.Conns[0].Borrow.Statement; got != "" {
		t.Errorf("Borrow.Statement with pool_trace_query_text=off: got %q, want none", got)
	}
	if js, _ := json.Marshal(s); strings.Contains(string(js), "v4lidation") {
		t.Errorf("the snapshot shows the validation query with pool_trace_query_text=off:\n%s", js)
	}
}

func TestSnapshotWithLeakDetectionOffStillShowsConnectionsInUse(t *testing.T) {
	ctr, err := sqlpool.NewConnector("sqlite3:file:" + filepath.Join(t.TempDir(), "noleak.db") + "?pool_leak_threshold=0")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	s := ctr.Snapshot()
	if s.LeakThreshold != 0 || len(s.Conns) != 1 || s.Conns[0].State != pool.ResourceInUse || s.Conns[0].Borrow != nil || s.Conns[0].ID != 1 {
		t.Errorf("Snapshot without leak detection: got threshold %v, conns %+v; want 0 and connection 1 in use, with no borrow", s.LeakThreshold, s.Conns)
	}
}

func TestDBSnapshotRejectsAnotherDriversDB(t *testing.T) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlpool.DBSnapshot(context.Background(), db); err == nil || !strings.Contains(err.Error(), "DBSnapshot") {
		t.Errorf("DBSnapshot of a plain sqlite3 DB: got %v, want an error naming DBSnapshot", err)
	}
}

func TestSecretsNotInSnapshots(t *testing.T) {
	for _, b := range secBackends()[:2] { // PostgreSQL: URL and keywords
		t.Run(b.name, func(t *testing.T) {
			ctr, err := sqlpool.NewConnector(b.inner+":"+secAddParams(b.dsn(t), "pool_leak_threshold=50ms"),
				sqlpool.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(ctr)
			defer db.Close()
			rows, err := db.Query("SELECT $1::text", swordfish)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			testdb.WaitFor(t, "a suspect", func() bool {
				s, err := sqlpool.DBSnapshot(context.Background(), db)
				return err == nil && s.Suspects == 1
			})
			s, err := sqlpool.DBSnapshot(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if s.Server != "127.0.0.1:5432" || s.Namespace != "test" || s.System != "postgresql" {
				t.Errorf("Snapshot: got system %q, server %q, namespace %q; want postgresql, 127.0.0.1:5432, test", s.System, s.Server, s.Namespace)
			}
			secCheckJSON(t, "DBSnapshot", s)
			secCheckJSON(t, "Snapshots", sqlpool.Snapshots())
		})
	}
}
