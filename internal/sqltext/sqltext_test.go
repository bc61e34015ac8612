package sqltext

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

var (
	pg    = Options{}
	mysql = Options{DoubleQuotedStrings: true}
)

// withMax returns o bounded to n bytes.
func withMax(o Options, n int) Options {
	o.MaxLen = n
	return o
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		name  string
		query string
		opts  Options
		want  string
	}{
		// Nothing to do.
		{"empty", "", pg, ""},
		{"no literals", "SELECT a, b FROM t WHERE id = $1", pg, "SELECT a, b FROM t WHERE id = $1"},
		{"trim", "  \n\tSELECT a FROM t \r\n", pg, "SELECT a FROM t"},
		{"booleans and null", "WHERE a IS NULL AND b = TRUE OR c = false", pg, "WHERE a IS NULL AND b = TRUE OR c = false"},

		// Placeholders.
		{"positional", "WHERE a = $1 AND b = $23", pg, "WHERE a = $1 AND b = $23"},
		{"other placeholders", "VALUES (?, ?2, :n1, @p1, $v)", pg, "VALUES (?, ?2, :n1, @p1, $v)"},
		{"positional mysql", "WHERE a = ? AND b IN (?, ?)", mysql, "WHERE a = ? AND b IN (?, ?)"},
		{"dollar in identifiers", "SELECT a$b$c, $ FROM t", pg, "SELECT a$b$c, $ FROM t"},
		{"placeholder then identifier", "SELECT ?_$$, $1_$$", pg, "SELECT ?_$$, $1_$$"},
		{"dollar quote then identifier", "SELECT $$$$_$$", pg, "SELECT ?_$$"},

		// Identifiers.
		{"digits in identifiers", "SELECT t1.col_2, a1b FROM t1", pg, "SELECT t1.col_2, a1b FROM t1"},
		{"non-ascii identifier", "SELECT größe FROM t WHERE name = 'Jürgen'", pg, "SELECT größe FROM t WHERE name = ?"},
		{"double-quoted identifier", `SELECT "Col 1", "a""b" FROM "T2"`, pg, `SELECT "Col 1", "a""b" FROM "T2"`},
		{"quote inside identifier", `SELECT "it's" FROM t WHERE x = 'y'`, pg, `SELECT "it's" FROM t WHERE x = ?`},
		{"unicode escape identifier", `SELECT U&"d\0061t" FROM t`, pg, `SELECT U&"d\0061t" FROM t`},
		{"backtick identifier", "SELECT `a'b`, `c``d` FROM t WHERE x = 'y'", mysql, "SELECT `a'b`, `c``d` FROM t WHERE x = ?"},
		{"unterminated identifier", `SELECT "abc`, pg, `SELECT "abc`},

		// String literals.
		{"string", "SELECT * FROM t WHERE name = 'bob'", pg, "SELECT * FROM t WHERE name = ?"},
		{"doubled quote", "WHERE s = 'it''s' AND x", pg, "WHERE s = ? AND x"},
		{"empty string", "WHERE s = '' AND x = ''''", pg, "WHERE s = ? AND x = ?"},
		{"adjacent strings", "SELECT 'a' 'b'", pg, "SELECT ? ?"},
		{"cast", "SELECT '1'::int, x::text", pg, "SELECT ?::int, x::text"},
		{"pg backslash is plain", `WHERE a = 'a\' AND b = 'c'`, pg, `WHERE a = ? AND b = ?`},
		{"E escape", `WHERE s = E'a\'b' AND x`, pg, "WHERE s = ? AND x"},
		{"e escape", `WHERE s = e'a\\' || 'c'`, pg, "WHERE s = ? || ?"},
		{"N prefix", "SELECT N'abc', n'def'", pg, "SELECT ?, ?"},
		{"X prefix", "SELECT X'1F', x'1f'", pg, "SELECT ?, ?"},
		{"B prefix", "SELECT B'101', b'0'", pg, "SELECT ?, ?"},
		{"U& prefix", `SELECT U&'d\0061t\+000061' UESCAPE '!'`, pg, "SELECT ? UESCAPE ?"},
		{"prefix only at word start", "SELECT some'x'", pg, "SELECT some?"},
		{"unterminated string", "SELECT 'abc", pg, "SELECT ?"},
		{"unterminated E string", `SELECT E'abc\'`, pg, "SELECT ?"},

		// Dollar quotes.
		{"dollar quote", "DO $$ BEGIN RAISE 'x'; END $$", pg, "DO ?"},
		{"tagged dollar quote", "SELECT $fn$it's$fn$, 1", pg, "SELECT ?, ?"},
		{"nested tags", "SELECT $a$ x $b$ y $b$ z $a$ FROM t", pg, "SELECT ? FROM t"},
		{"unterminated dollar quote", "SELECT $t$abc", pg, "SELECT ?"},
		{"positional then dollar quote", "SELECT $1, $$x$$", pg, "SELECT $1, ?"},

		// Numbers.
		{"integers", "LIMIT 10 OFFSET 20", pg, "LIMIT ? OFFSET ?"},
		{"decimals", "SELECT 1.5, .5, 1., 0.25", pg, "SELECT ?, ?, ?, ?"},
		{"exponents", "SELECT 1e10 + 2.5E-3 - 3e+2", pg, "SELECT ? + ? - ?"},
		{"hex", "SELECT 0x1F | 0XFF", pg, "SELECT ? | ?"},
		{"hex minus", "SELECT 0x1e-5", pg, "SELECT ?-?"},
		{"sign", "SELECT -5, x-1, +2", pg, "SELECT -?, x-?, +?"},
		{"glued digits", "SELECT 123abc, 1_000_000, 0b101, 0o17", pg, "SELECT ?, ?, ?, ?"},
		{"array slice", "SELECT arr[1:2]", pg, "SELECT arr[?:?]"},
		{"qualified dot", "SELECT $1.5", pg, "SELECT $1.?"},

		// Comments.
		{"line comment", "SELECT a -- secret\nFROM t", pg, "SELECT a \nFROM t"},
		{"line comment at end", "SELECT 1 -- trailing", pg, "SELECT ?"},
		{"line comment joins", "SELECT a--c\nFROM t", pg, "SELECT a \nFROM t"},
		{"line comment carriage return", "SELECT a --c\r\nFROM t", pg, "SELECT a \r\nFROM t"},
		{"only comment", "-- nothing", pg, ""},
		{"block comment", "SELECT /* hint */ a", pg, "SELECT  a"},
		{"block comment joins", "SELECT/*x*/a", pg, "SELECT a"},
		{"leading block comment", "/* app=x */ SELECT 1", pg, "SELECT ?"},
		{"comment keeps tokens apart", "SELECT 1-/**/-1", pg, "SELECT ?- -?"},
		{"nested comment", "SELECT /* a /* b */ c */ 1", pg, "SELECT  ?"},
		{"unterminated block comment", "SELECT a /* secret", pg, "SELECT a"},
		{"unterminated nested comment", "SELECT a /* x /* y */ secret", pg, "SELECT a"},
		{"slash star slash", "SELECT 1 /*/ 2", pg, "SELECT ?"},
		{"hash is an operator", "SELECT 5 # 3", pg, "SELECT ? # ?"},
		{"quote in comment", "SELECT a -- it's\n, 'b'", pg, "SELECT a \n, ?"},

		// MySQL.
		{"mysql double-quoted string", `WHERE a = "x" AND b = 'y'`, mysql, "WHERE a = ? AND b = ?"},
		{"mysql backslash", `WHERE a = 'a\'b' AND c`, mysql, "WHERE a = ? AND c"},
		{"mysql double backslash", `WHERE a = 'a\\' AND c = 1`, mysql, "WHERE a = ? AND c = ?"},
		{"mysql double-quoted escapes", `SELECT "a\"b", "c""d"`, mysql, "SELECT ?, ?"},
		{"mysql hash comment", "SELECT 1 # c\nFROM t", mysql, "SELECT ? \nFROM t"},
		{"mysql dash comment", "SELECT 1 -- c\nFROM t", mysql, "SELECT ? \nFROM t"},
		{"mysql comments do not nest", "SELECT /* a /* b */ c */ 1", mysql, "SELECT  c */ ?"},
		{"mysql executable comment", "SELECT /*! STRAIGHT_JOIN */ a", mysql, "SELECT  a"},
		{"mysql charset introducer", "SELECT _utf8mb4'x'", mysql, "SELECT _utf8mb4?"},
		{"mysql hex", "SELECT X'4D', 0x4D", mysql, "SELECT ?, ?"},
		{"mysql unterminated double quote", `SELECT "abc`, mysql, "SELECT ?"},

		// Invalid UTF-8 is copied where kept, dropped where replaced.
		{"invalid utf8", "SELECT \xff\xfe FROM t WHERE a = '\xff'", pg, "SELECT \xff\xfe FROM t WHERE a = ?"},
		{"invalid utf8 in comment", "SELECT a /* \xc3 */", pg, "SELECT a"},

		// Truncation.
		{"max fits", "SELECT 'a long secret'", withMax(pg, 8), "SELECT ?"},
		{"max truncates", "SELECT a FROM t", withMax(pg, 10), "SELECT …"},
		{"max multibyte boundary", "SELECT größe", withMax(pg, 12), "SELECT gr…"},
		{"max below ellipsis", "SELECT a", withMax(pg, 2), "SE"},
		{"max below ellipsis multibyte", "日本", withMax(pg, 2), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sanitize(tt.query, tt.opts); got != tt.want {
				t.Errorf("Sanitize(%q, %+v) = %q, want %q", tt.query, tt.opts, got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 0, "abc"},
		{"abc", -1, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 5, "ab…"},
		{"abcdef", 3, "…"},
		{"abcdef", 2, "ab"},
		{"abcdef", 1, "a"},
		{"héllo", 5, "h…"},
		{"héllo", 6, "héllo"},
		{"日本語", 8, "日…"},
		{"日本語", 6, "日…"},
		{"日本語", 5, "…"},
		{"日本語", 2, ""},
		{"€", 2, ""},
		{"a€", 2, "a"},
		{"\x80\x80\x80\x80\x80\x80", 5, "\x80\x80…"},
	}
	for _, tt := range tests {
		got := Truncate(tt.s, tt.max)
		if got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
		if tt.max > 0 && len(got) > tt.max {
			t.Errorf("Truncate(%q, %d) is %d bytes", tt.s, tt.max, len(got))
		}
	}
}

// TestSecretNeverShown puts a secret inside every kind of literal and
// comment, terminated or not, and checks that it never reaches the output.
func TestSecretNeverShown(t *testing.T) {
	const secret, card = "S3cr3tXyZ", "4111111111111111"
	type mode int
	const (
		both mode = iota
		pgOnly
		mysqlOnly
	)
	tests := []struct {
		query string
		mode  mode
	}{
		{"SELECT 'S3cr3tXyZ'", both},
		{"SELECT 'it''s S3cr3tXyZ'", both},
		{"SELECT E'S3cr3tXyZ'", both},
		{`SELECT E'a\'S3cr3tXyZ'`, both},
		{"SELECT N'S3cr3tXyZ'", both},
		{"SELECT X'S3cr3tXyZ'", both},
		{"SELECT B'S3cr3tXyZ'", both},
		{"SELECT U&'S3cr3tXyZ'", both},
		{"SELECT $$S3cr3tXyZ$$", both},
		{"SELECT $tag$S3cr3tXyZ$tag$", both},
		{"SELECT 'S3cr3tXyZ", both},
		{`SELECT E'S3cr3tXyZ\'`, both},
		{"SELECT $$S3cr3tXyZ", both},
		{"SELECT $tag$S3cr3tXyZ$tag", both},
		{"SELECT 1 -- S3cr3tXyZ", both},
		{"SELECT 1 -- S3cr3tXyZ\nFROM t", both},
		{"SELECT /* S3cr3tXyZ */ 1", both},
		{"SELECT /* S3cr3tXyZ", both},
		{"SELECT /* a /* b */ S3cr3tXyZ */ 1", pgOnly},
		{"SELECT /* a /* b */ S3cr3tXyZ", pgOnly},
		{`SELECT "S3cr3tXyZ"`, mysqlOnly},
		{`SELECT "a\"S3cr3tXyZ"`, mysqlOnly},
		{`SELECT "a""S3cr3tXyZ"`, mysqlOnly},
		{`SELECT "S3cr3tXyZ`, mysqlOnly},
		{`SELECT 'a\'S3cr3tXyZ'`, mysqlOnly},
		{"SELECT 1 # S3cr3tXyZ", mysqlOnly},
		{"SELECT /*! S3cr3tXyZ */ 1", mysqlOnly},
		{"SELECT _utf8mb4'S3cr3tXyZ'", mysqlOnly},
		{"SELECT 4111111111111111", both},
		{"SELECT -4111111111111111.25", both},
		{"SELECT 4111111111111111e3", both},
		{"SELECT .4111111111111111", both},
		{"SELECT 0x4111111111111111", both},
		{"SELECT 4111_1111_1111_1111", both},
	}
	for _, tt := range tests {
		for _, o := range []Options{pg, mysql} {
			if tt.mode == pgOnly && o.DoubleQuotedStrings || tt.mode == mysqlOnly && !o.DoubleQuotedStrings {
				continue
			}
			got := Sanitize(tt.query, o)
			if strings.Contains(got, secret) || strings.Contains(got, card) || strings.Contains(got, "4111") {
				t.Errorf("Sanitize(%q, %+v) = %q shows the secret", tt.query, o, got)
			}
		}
	}
}

// TestAllocs checks that a query with nothing to replace costs nothing and
// one with literals a single allocation.
func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are not meaningful with -short")
	}
	tests := []struct {
		query string
		opts  Options
		want  float64
	}{
		{" SELECT a FROM t WHERE id = $1 ", pg, 0},
		{"SELECT a FROM t WHERE id = 42 AND name = 'x' -- c", pg, 1},
		{"SELECT a FROM t WHERE id = ?", withMax(pg, 8), 1},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, func() { Sanitize(tt.query, tt.opts) }); got != tt.want {
			t.Errorf("Sanitize(%q, %+v): %v allocations, want %v", tt.query, tt.opts, got, tt.want)
		}
	}
}

// TestSanitizeUnchanged checks that a query with nothing to do comes back
// as the very same string, or a part of it, not a copy.
func TestSanitizeUnchanged(t *testing.T) {
	q := "  SELECT a FROM t WHERE id = $1 AND b = ?"
	got := Sanitize(q, pg)
	if got != strings.TrimSpace(q) || unsafe.StringData(got) != unsafe.StringData(q[2:]) {
		t.Errorf("Sanitize(%q) = %q, a copy", q, got)
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add("SELECT a FROM t WHERE id = $1", false, 0)
	f.Add(`SELECT E'a\'b', $t$x$t$ /* a /* b */ c */ -- d`, false, 12)
	f.Add(`SELECT "a\"b", 'c\'d' # e`, true, 0)
	f.Add("SELECT größe, 'Jürgen' FROM \xff", false, 9)
	f.Fuzz(func(t *testing.T, query string, dq bool, maxLen int) {
		o := Options{DoubleQuotedStrings: dq, MaxLen: maxLen}
		got := Sanitize(query, o)
		if maxLen > 0 && len(got) > maxLen {
			t.Fatalf("Sanitize(%q, %+v) = %q: %d bytes", query, o, got, len(got))
		}
		if len(got) > len(query) {
			t.Fatalf("Sanitize(%q, %+v) = %q: longer than the query", query, o, got)
		}
		if utf8.ValidString(query) && !utf8.ValidString(got) {
			t.Fatalf("Sanitize(%q, %+v) = %q: invalid UTF-8", query, o, got)
		}

		// Without a bound, sanitizing sanitized text changes nothing.
		o.MaxLen = 0
		once := Sanitize(query, o)
		if twice := Sanitize(once, o); twice != once {
			t.Fatalf("Sanitize not idempotent on %q (%+v): %q then %q", query, o, once, twice)
		}

		// Whatever is inside a plain string literal or a block comment
		// never shows.
		inner := strings.Map(func(r rune) rune {
			if strings.ContainsRune(`'\*/`, r) {
				return -1
			}
			return r
		}, query)
		for _, q := range []string{"SELECT '" + inner + "'", "SELECT 1 /* " + inner + " */"} {
			if got := Sanitize(q, o); got != "SELECT ?" {
				t.Fatalf("Sanitize(%q, %+v) = %q, want %q", q, o, got, "SELECT ?")
			}
		}
	})
}

// benchQuery is a typical query of about 200 bytes.
const benchQuery = `SELECT u.id, u.email, o.total FROM users u JOIN orders o ON o.user_id = u.id ` +
	`WHERE u.email = 'jane.doe@example.com' AND o.created_at > '2024-01-01' ` +
	`AND o.status IN ('paid', 'shipped') /* app=web */ LIMIT 50`

func BenchmarkSanitize(b *testing.B) {
	b.Run("literals", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchQuery)))
		for b.Loop() {
			Sanitize(benchQuery, pg)
		}
	})
	clean := Sanitize(benchQuery, pg)
	b.Run("clean", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(clean)))
		for b.Loop() {
			Sanitize(clean, pg)
		}
	})
}

func TestSplitCutsAtSemicolonsOutsideQuotesAndComments(t *testing.T) {
	for _, tc := range []struct {
		in    string
		mysql bool
		want  []string
	}{
		{"SET a = 1", false, []string{"SET a = 1"}},
		{" SET a = 1 ;; SET b = 2; ", false, []string{"SET a = 1", "SET b = 2"}},
		{"SELECT ';'; SELECT \"a;b\"", false, []string{"SELECT ';'", `SELECT "a;b"`}},
		{"SELECT 1 -- a;b\n; SELECT /* ; */ 2", false, []string{"SELECT 1 -- a;b", "SELECT /* ; */ 2"}},
		{"DO $$BEGIN PERFORM 1; END$$; SET x = 'y'", false, []string{"DO $$BEGIN PERFORM 1; END$$", "SET x = 'y'"}},
		{"DO $f$ ; $f$", false, []string{"DO $f$ ; $f$"}},
		{"SELECT E'\\';'; SELECT 2", false, []string{"SELECT E'\\';'", "SELECT 2"}},
		{"SET @a = 'x\\';y'; SET @b = \"c;d\"# e;f\n", true, []string{"SET @a = 'x\\';y'", "SET @b = \"c;d\"# e;f"}},
		{"SELECT `a;b` FROM t", true, []string{"SELECT `a;b` FROM t"}},
		{"SELECT 'unterminated; SET b = 1", false, []string{"SELECT 'unterminated; SET b = 1"}},
		{"  ; ", false, nil},
	} {
		got := Split(tc.in, Options{DoubleQuotedStrings: tc.mysql})
		if !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q, mysql=%v): got %q, want %q", tc.in, tc.mysql, got, tc.want)
		}
	}
}
