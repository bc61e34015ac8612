// Package redact finds the passwords in an inner driver's DSN and masks them
// in text and errors. sqlpool quotes nothing from a DSN but pool_* names and
// values in its own errors, as a DSN usually holds a password; inner drivers
// are less careful (lib/pq and net/url quote whole URLs in parse errors), so
// sqlpool scrubs their errors with Secrets and Error.
package redact

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sqlpool/sqlpool/internal/kv"
)

// secretKeys are the parameters, in keyword or query form, whose values are
// passwords (compared case-insensitively: sqlserver's keys are). _auth_pass
// is go-sqlite3's, for a database with user authentication.
var secretKeys = []string{"password", "sslpassword", "passwd", "pwd", "_auth_pass"}

// IsSecretKey reports whether the keyword or query parameter k holds a
// password: password, sslpassword, passwd, pwd or _auth_pass, in any case.
func IsSecretKey(k string) bool {
	return slices.ContainsFunc(secretKeys, func(s string) bool { return strings.EqualFold(s, k) })
}

// Secrets returns the secret strings (passwords) that appear in an inner
// DSN, in every form a driver accepts, so errors can be scrubbed: as written,
// percent-decoded and re-encoded for URL passwords, unquoted and as written
// for keyword values, and each of these as Go's %q prints it. Where the DSN
// is ambiguous (a raw '@', '/', '?' or '#' in a URL password, a space in an
// unquoted keyword password), it returns every candidate the drivers'
// parsers could pick, and the pieces they could quote: a wrong candidate
// only hides a little too much of an error message. The result has no empty
// strings and no duplicates, longest first.
func Secrets(innerDSN string) []string {
	var c candidates
	if strings.Contains(innerDSN, "://") || strings.HasPrefix(innerDSN, "//") {
		c.addURLPasswords(innerDSN)
	}
	c.addMySQLPassword(innerDSN)
	queryForm := !kv.IsDSN(innerDSN)
	if queryForm {
		c.addQueryPasswords(innerDSN)
	}
	c.addKeywordPasswords(innerDSN, queryForm)
	if strings.Contains(innerDSN, ";") {
		c.addADOPasswords(innerDSN)
	}
	c.addQuoted()
	return c.longestFirst()
}

// candidates are the secrets found so far, in the order found.
type candidates []string

// add adds s, unless it is empty or already there.
func (c *candidates) add(s string) {
	if s != "" && !slices.Contains(*c, s) {
		*c = append(*c, s)
	}
}

// addEscaped adds raw, a password as written in a URL, and what it reads as
// with path and with query unescaping.
func (c *candidates) addEscaped(raw string) {
	c.add(raw)
	if dec, err := url.PathUnescape(raw); err == nil {
		c.add(dec)
		// The form url.URL.String and url.UserPassword print.
		_, enc, _ := strings.Cut(url.UserPassword("", dec).String(), ":")
		c.add(enc)
	}
	if dec, err := url.QueryUnescape(raw); err == nil {
		c.add(dec)
	}
}

// addURLPassword adds raw, a password as written in a URL's userinfo or
// query, escaped and unescaped, and the same for its pieces between a raw
// '@', '/', '?' or '#'. Such a character splits the password for some
// parser, which may then quote a piece: net/url reads "u:pa/ss@h" as host
// "u", port "pa", and says `invalid port ":pa"`; pgx reads "u:pa@ss@h" as
// host "ss@h", and its own redaction of a broken URL may mask half a
// password.
func (c *candidates) addURLPassword(raw string) {
	c.addEscaped(raw)
	for _, piece := range strings.FieldsFunc(raw, func(r rune) bool { return strings.ContainsRune("@/?#", r) }) {
		c.addEscaped(piece)
	}
}

// addURLPasswords adds the password of a URL DSN's userinfo
// ("scheme://user:password@host"), as each parser reads it.
func (c *candidates) addURLPasswords(dsn string) {
	for _, u := range urlUserinfos(dsn) {
		if _, pw, ok := strings.Cut(u, ":"); ok {
			c.addURLPassword(pw)
		}
	}
}

// addMySQLPassword adds the password of a go-sql-driver/mysql DSN,
// [user[:password]@][net[(addr)]]/dbname[?params]. Its ParseDSN takes the
// last '/', then the last '@' before it, then the first ':' before that, so
// the password may hold any byte. Whatever the DSN's form, this reading is
// one more candidate, but in a URL it reads "//user:password" or "//user",
// which the URL readings cover better.
func (c *candidates) addMySQLPassword(dsn string) {
	end := strings.LastIndexByte(dsn, '/')
	if end < 0 {
		end = len(dsn)
	}
	if at := strings.LastIndexByte(dsn[:end], '@'); at >= 0 {
		if _, pw, ok := strings.Cut(dsn[:at], ":"); ok && !strings.HasPrefix(pw, "//") {
			c.add(pw)
		}
	}
}

// addQueryPasswords adds the values of password=... in a query, as pgx and
// sqlserver accept. Drivers disagree on where a query starts when a password
// holds a raw '?' or '@', and on whether '#' ends it, so it looks at every
// piece after a '?' or '&'. A raw '&' in the password makes its tail a
// parameter without '=', which pgx quotes: that piece is added too.
func (c *candidates) addQueryPasswords(dsn string) {
	pieces := strings.FieldsFunc(dsn, func(r rune) bool { return r == '?' || r == '&' })
	for i, piece := range pieces {
		rawKey, rawValue, ok := strings.Cut(piece, "=")
		if !ok {
			continue
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if !IsSecretKey(key) {
			continue
		}
		c.addURLPassword(rawValue)
		if i+1 < len(pieces) && !strings.Contains(pieces[i+1], "=") {
			c.addURLPassword(pieces[i+1])
		}
	}
}

// addKeywordPasswords adds the values of keyword settings with a secret key,
// whatever the DSN's form (a keyword DSN may fail to parse before its
// password): a secret key at the start or after a separator (white space,
// '?', '&', ';', or the closing quote of the setting before), read as libpq
// would. queryForm is whether the DSN is not a keyword DSN.
func (c *candidates) addKeywordPasswords(dsn string, queryForm bool) {
	for i := 0; i < len(dsn); i++ {
		if secretKeyAt(dsn, i) {
			c.addKeywordSetting(dsn, i, queryForm)
		}
	}
}

// secretKeyAt reports whether a secret key starts at dsn[i], and dsn[i] is
// at the start of dsn or after a separator: white space, '?', '&', ';' or a
// single quote (the closing quote of the setting before).
func secretKeyAt(dsn string, i int) bool {
	if i > 0 && !kv.IsSpace(dsn[i-1]) && !strings.ContainsRune("?&;'", rune(dsn[i-1])) {
		return false
	}
	return slices.ContainsFunc(secretKeys, func(k string) bool {
		return len(dsn)-i >= len(k) && strings.EqualFold(dsn[i:i+len(k)], k)
	})
}

// addKeywordSetting adds the value, unquoted and as written, of the setting
// at dsn[i] if libpq would read one with a secret key there, and the words
// libpq or pgx could quote after it. libpq reads "password=pa ss" as
// password "pa" and a keyword "ss" missing its "=", and quotes "ss"; an
// unterminated quote may be a password with a space, whose words pgx may
// quote.
func (c *candidates) addKeywordSetting(dsn string, i int, queryForm bool) {
	tok, err := kv.ParseSetting(dsn, i)
	if err == kv.ErrMissingEquals || !IsSecretKey(tok.Key) {
		return
	}
	value, rawValue := tok.Value, tok.RawValue
	if queryForm && i > 0 && (dsn[i-1] == '?' || dsn[i-1] == '&') {
		// A query parameter: the query readings have its value, up to
		// the next '&' and the piece after it. Read on to white space,
		// it would take the parameters after it too, and RedactDSN would
		// hide them.
		value, _, _ = strings.Cut(value, "&")
		rawValue, _, _ = strings.Cut(rawValue, "&")
	}
	c.add(value)
	c.add(rawValue)
	if err == kv.ErrUnterminated {
		for _, w := range strings.FieldsFunc(tok.Value, func(r rune) bool { return r < 0x80 && kv.IsSpace(byte(r)) }) {
			c.add(w)
		}
		return
	}
	if w := strayKeywordAt(dsn, tok.End); w != "" {
		c.add(w)
	}
}

// addADOPasswords adds the passwords of an ADO/ODBC style DSN,
// "server=h;user id=u;password=p;".
func (c *candidates) addADOPasswords(dsn string) {
	for part := range strings.SplitSeq(dsn, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && IsSecretKey(strings.TrimSpace(k)) {
			c.add(strings.TrimSpace(v))
		}
	}
}

// addQuoted adds each secret found so far as %q prints it, without the
// quotes, where that differs: net/url and most drivers quote what they
// reject.
func (c *candidates) addQuoted() {
	for _, s := range *c {
		if q := strconv.Quote(s); q[1:len(q)-1] != s {
			c.add(q[1 : len(q)-1])
		}
	}
}

// longestFirst returns the secrets sorted longest first, those of the same
// length in the order found.
func (c candidates) longestFirst() []string {
	slices.SortStableFunc(c, func(a, b string) int { return len(b) - len(a) })
	return c
}

// strayKeywordAt returns the word at or after s[i] (after white space) if
// libpq would take it for a keyword without "=", else "".
func strayKeywordAt(s string, i int) string {
	for i < len(s) && kv.IsSpace(s[i]) {
		i++
	}
	start := i
	for i < len(s) && s[i] != '=' && !kv.IsSpace(s[i]) {
		i++
	}
	word := s[start:i]
	for i < len(s) && kv.IsSpace(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '=' {
		return ""
	}
	return word
}

// urlUserinfos returns the userinfo of a URL DSN ("user:password") as each
// parser sees it; for a well-formed URL they all agree. The authority starts
// after "scheme://", or after a leading "//" as in net/url.
func urlUserinfos(s string) []string {
	var out []string
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		rest = s[strings.Index(s, "://")+len("://"):]
	}

	// libpq and pgx: the first '@' if it comes before the first '/'.
	if j := strings.IndexAny(rest, "@/"); j >= 0 && rest[j] == '@' {
		out = append(out, rest[:j])
	}
	// net/url (lib/pq, most others): the authority ends at the first '#',
	// '?' or '/', and the userinfo at its last '@'.
	auth := rest
	if j := strings.IndexAny(auth, "#?/"); j >= 0 {
		auth = auth[:j]
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		out = append(out, auth[:j])
	}
	// A password with a raw '?' or '#': the last '@' before the first '/'
	// (what the root's findQuery skips to find the query).
	auth = rest
	if j := strings.IndexByte(auth, '/'); j >= 0 {
		auth = auth[:j]
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		out = append(out, auth[:j])
	}
	// A password with a raw '/' (base64 has them): the last '@' of all,
	// unless that '@' is in a query value.
	if j := strings.LastIndexByte(rest, '@'); j >= 0 && !queryParamStart.MatchString(rest[:j]) {
		out = append(out, rest[:j])
	}
	return out
}

// queryParamStart finds a "?key=" or "&key=" in a URL.
var queryParamStart = regexp.MustCompile(`[?&][^?&#=]*=`)
