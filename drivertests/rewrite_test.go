package drivertests

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestRewriteFile(t *testing.T) {
	tests := []struct {
		name, src string
		count     int
		want      []string // substrings of the result
		not       []string // must not be in the result
	}{
		{
			name: "plain import",
			src: `package p
import "database/sql"
func f(c any) (*sql.DB, error) { return sql.Open("mysql", "dsn") }
`,
			count: 1,
			want:  []string{`sqlpoolOpen("mysql", "dsn")`, `"database/sql"`},
			not:   []string{"sql.Open"},
		},
		{
			name: "alias, OpenDB, func value",
			src: `package p_test
import (
	stdsql "database/sql"
	"database/sql/driver"
)
var open = stdsql.Open
func f(c driver.Connector) *stdsql.DB { return stdsql.OpenDB(c) }
`,
			count: 2,
			want:  []string{"var open = sqlpoolOpen", "return sqlpoolOpenDB(c)", `stdsql "database/sql"`},
			not:   []string{"stdsql.Open"},
		},
		{
			name: "only use: the import is blanked",
			src: `package p
import "database/sql"
func f() { db, _ := sql.Open("postgres", ""); _ = db }
`,
			count: 1,
			want:  []string{`_ "database/sql"`, `sqlpoolOpen("postgres", "")`},
		},
		{
			name: "shadowing local and other packages' Open",
			src: `package p
import (
	"database/sql"
	"os"
)
type opener struct{}
func (opener) Open(a, b string) {}
func f() {
	os.Open("x")
	{
		sql := opener{}
		sql.Open("a", "b")
	}
	_, _ = sql.Open("x", "y")
}
`,
			count: 1,
			want:  []string{`os.Open("x")`, `sql.Open("a", "b")`, `sqlpoolOpen("x", "y")`},
		},
		{
			name:  "blank import untouched",
			src:   "package p\nimport _ \"database/sql\"\n",
			count: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rewriteFile("x_test.go", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			out := string(res.Src)
			if res.Count != tt.count {
				t.Errorf("count %d, want %d:\n%s", res.Count, tt.count, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("result lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("result still has %q:\n%s", n, out)
				}
			}
			if _, err := parser.ParseFile(token.NewFileSet(), "out.go", res.Src, 0); err != nil {
				t.Errorf("result does not parse: %v\n%s", err, out)
			}
		})
	}
}

func TestRewriteRefusesDotImport(t *testing.T) {
	_, err := rewriteFile("x_test.go", []byte("package p\nimport . \"database/sql\"\nvar _ = Open\n"))
	if err == nil {
		t.Fatal("a dot import of database/sql was accepted")
	}
}

func TestRedirectSourceParses(t *testing.T) {
	if _, err := parser.ParseFile(token.NewFileSet(), "r.go", redirectSource("pq_test"), 0); err != nil {
		t.Fatal(err)
	}
}

func TestParseResultsAndCompare(t *testing.T) {
	raw := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestB/x"}
{"Action":"pass","Package":"p","Test":"TestB/x"}
{"Action":"run","Package":"p","Test":"TestB/y"}
{"Action":"pass","Package":"p","Test":"TestB/y"}
{"Action":"pass","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"run","Package":"p","Test":"TestD"}
{"Action":"pass","Package":"p","Test":"TestD"}
{"Action":"run","Package":"p","Test":"TestE"}
{"Action":"fail","Package":"p","Test":"TestE"}
{"Action":"pass","Package":"p"}
`
	via := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: boom\n"}
{"Action":"fail","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestB/x"}
{"Action":"fail","Package":"p","Test":"TestB/x"}
{"Action":"run","Package":"p","Test":"TestB/y"}
{"Action":"pass","Package":"p","Test":"TestB/y"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"run","Package":"p","Test":"TestE"}
{"Action":"pass","Package":"p","Test":"TestE"}
{"Action":"output","Package":"p","Output":"panic: test timed out after 1s\n"}
`
	r, err := parseResults(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseResults(strings.NewReader(via))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Counts(), (Counts{Passed: 5, Failed: 1, Skipped: 1}); got != want {
		t.Errorf("raw counts %+v, want %+v", got, want)
	}
	if v.PackageAction != "" {
		t.Errorf("package action %q for a binary that ended without one", v.PackageAction)
	}
	c := compare(r, v, []Allowed{{"TestB/x", "reason"}, {"TestZ", "gone"}})
	got := map[string]string{}
	for _, d := range c.Differences {
		s := string(d.Outcome)
		if d.Allowed != nil {
			s += " allowed"
		}
		got[d.Test] = s
	}
	want := map[string]string{"TestA": "fail", "TestB": "fail allowed", "TestB/x": "fail allowed", "TestD": "missing"}
	if len(got) != len(want) {
		t.Errorf("differences %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if len(c.Unexpected()) != 2 {
		t.Errorf("unexpected %v, want TestA and TestD", c.Unexpected())
	}
	if len(c.Stale) != 1 || c.Stale[0].Test != "TestZ" {
		t.Errorf("stale %v, want TestZ", c.Stale)
	}
	if len(c.OnlySqlpool) != 1 || c.OnlySqlpool[0] != "TestE" {
		t.Errorf("only through sqlpool %v, want TestE", c.OnlySqlpool)
	}
	if k := keyOutput(v.Output["TestA"], 5); len(k) != 1 || !strings.Contains(k[0], "boom") {
		t.Errorf("key output %q", k)
	}
}
