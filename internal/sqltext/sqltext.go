// Package sqltext makes SQL text safe to show: literals become "?", comments go, and the text is bounded.
//
// It is meant for query text that ends up in logs, leak reports and
// OpenTelemetry spans (db.query.text), where string and numeric literals may
// carry passwords, tokens or personal data that the query's author never
// meant to be recorded.
//
// The lexer is a single pass over bytes: it knows enough of the PostgreSQL,
// MySQL/MariaDB and SQLite lexical rules to stay in step with quoted text,
// and nothing about grammar. Where it cannot tell, it hides rather than
// shows: an unterminated literal or comment swallows the rest of the text,
// "--" always starts a comment (MySQL wants a space after it), and a number
// glued to letters ("123abc", "0b101", "1_000") is replaced as a whole.
// Placeholders ($1, ?, ?1, :name, @name, $name) and identifiers, quoted or
// not, are kept. Block comments nest, as in PostgreSQL, except under
// Options.DoubleQuotedStrings, which selects MySQL's rules: "#" comments,
// backslash escapes in every string, and block comments that do not nest.
package sqltext

import (
	"strings"
	"unicode/utf8"
)

// Options says how to read the text.
type Options struct {
	// DoubleQuotedStrings treats "..." as a string literal (MySQL/MariaDB without ANSI_QUOTES)
	// rather than a quoted identifier (PostgreSQL, SQLite, standard SQL).
	DoubleQuotedStrings bool
	// MaxLen bounds the result in bytes (0 = no bound). A truncated result ends in "…" and
	// never splits a UTF-8 sequence; the whole result including "…" is at most MaxLen bytes.
	MaxLen int
}

// ellipsis ends a truncated result.
const ellipsis = "…"

// space is the ASCII whitespace the lexer knows, as a cutset for strings.Trim.
const space = " \t\n\r\f\v"

// Sanitize returns query with every literal replaced by "?" and comments removed.
//
// String literals (with any E, N, X, B or U& prefix), dollar-quoted strings
// and numbers become "?"; with o.DoubleQuotedStrings, so do "..." strings.
// Each comment becomes a single space, or nothing where the text before it
// already ends in whitespace. The result is trimmed of leading and trailing
// whitespace and then bounded by Truncate(result, o.MaxLen).
//
// Sanitize never panics, whatever the input, and its result is valid UTF-8
// whenever query is. It returns query itself, or a part of it, without
// allocating, when there is nothing to replace or truncate. With a MaxLen,
// the result keeps no more than MaxLen bytes alive: what remains of a longer
// text (its comments dropped, its white space trimmed) is a copy, not a
// part of the text or of a buffer sized for it.
func Sanitize(query string, o Options) string {
	s := sanitizer{src: query, mysql: o.DoubleQuotedStrings}
	out := strings.Trim(s.run(), space)
	if o.MaxLen > 0 && s.held() > o.MaxLen && (len(out) <= o.MaxLen || o.MaxLen < len(ellipsis)) {
		// Truncate would return a part of out, which kept in a span or a
		// report would keep the whole long text alive.
		return strings.Clone(Truncate(out, o.MaxLen))
	}
	return Truncate(out, o.MaxLen)
}

// Truncate bounds s to max bytes as Sanitize does (no sanitizing).
//
// A max of 0 or less means no bound, and s is returned as it is when it
// fits. Otherwise the result is the longest prefix of s that ends on a UTF-8
// boundary and leaves room for "…", followed by "…". When max is smaller than
// len("…"), the result is the longest such prefix of at most max bytes with
// no "…", possibly "".
func Truncate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	if max < len(ellipsis) {
		return s[:runeBoundary(s, max)]
	}
	return s[:runeBoundary(s, max-len(ellipsis))] + ellipsis
}

// runeBoundary returns the largest i <= n that does not split a UTF-8
// sequence of s, for 0 <= n < len(s). It looks back no further than one
// sequence: in invalid text with no sequence start in reach it returns n.
func runeBoundary(s string, n int) int {
	for i := n; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return n
}

// sanitizer holds the state of one Sanitize call.
//
// The output is built lazily: src[last:] has not been looked at for output
// yet, and b is only grown, once, when the first replacement is made, so a
// query with nothing to replace costs no allocation.
type sanitizer struct {
	src   string
	mysql bool // Options.DoubleQuotedStrings: MySQL lexical rules
	b     strings.Builder
	last  int  // src[last:i] is to be copied verbatim before the next replacement
	dirty bool // b holds the output so far
	tail  byte // the last byte written to b, if any
}

// held returns the size of the memory run's result is a part of: the output
// buffer, or the text itself when nothing was replaced.
func (s *sanitizer) held() int {
	if s.dirty {
		return s.b.Cap()
	}
	return len(s.src)
}

// run lexes the whole text and returns the result, not yet trimmed.
func (s *sanitizer) run() string {
	for i := 0; i < len(s.src); {
		switch class[s.src[i]] {
		case other:
			i++
		case word:
			i = s.word(i)
		default:
			i = s.token(i)
		}
	}
	if !s.dirty {
		return s.src
	}
	s.flush(len(s.src))
	return s.b.String()
}

// token lexes the token that starts at src[i], a byte of class token, and
// returns where the next one starts. A byte that starts nothing after all
// (a lone '-' or '/') is a token of its own, kept.
func (s *sanitizer) token(i int) int {
	src := s.src
	c, next := src[i], byteAt(src, i+1)
	switch {
	case c == '\'':
		return s.literal(i, scanQuoted(src, i+1, '\'', s.mysql))
	case c == '"' && s.mysql:
		return s.literal(i, scanQuoted(src, i+1, '"', true))
	case c == '"' || c == '`':
		return scanQuoted(src, i+1, c, false) // a quoted identifier, kept
	case c == '$':
		return s.dollar(i)
	case c == '?':
		return scanDigits(src, i+1) // placeholder ? or SQLite ?NNN, kept
	case c == '-' && next == '-', c == '#' && s.mysql:
		return s.comment(i, lineEnd(src, i+1))
	case c == '/' && next == '*':
		return s.comment(i, blockEnd(src, i+2, !s.mysql))
	case isDigit(c), c == '.' && isDigit(next) && !s.qualified(i):
		return s.literal(i, scanNumber(src, i))
	}
	return i + 1
}

// word lexes an unquoted identifier or keyword starting at src[i], or a
// string literal with a prefix (E'...', N'...', X'...', B'...', U&'...').
func (s *sanitizer) word(i int) int {
	if c := byteAt(s.src, i+1); c == '\'' || c == '&' {
		if q, backslash := prefixedQuote(s.src, i); q > i {
			return s.literal(i, scanQuoted(s.src, q+1, '\'', backslash || s.mysql))
		}
	}
	return scanWord(s.src, i)
}

// dollar lexes what starts with the '$' at src[i]: a positional placeholder
// ($1, kept), a dollar-quoted string ($$...$$ or $tag$...$tag$, replaced), or
// else just the '$' (as in SQLite's $name, whose name is lexed next).
func (s *sanitizer) dollar(i int) int {
	src := s.src
	j := i + 1
	if isDigit(byteAt(src, j)) {
		return scanDigits(src, j)
	}
	if isIdentStart(byteAt(src, j)) {
		j = scanTag(src, j)
	}
	if byteAt(src, j) != '$' {
		return i + 1
	}
	delim, body := src[i:j+1], j+1
	if k := strings.Index(src[body:], delim); k >= 0 {
		return s.literal(i, body+k+len(delim))
	}
	return s.literal(i, len(src))
}

// qualified reports whether the '.' at src[i] follows a name, a closing
// bracket or a closing quote, as in t1.x or (r).f, and so is not the start
// of a number such as .5.
func (s *sanitizer) qualified(i int) bool {
	if i == 0 {
		return false
	}
	c := s.src[i-1]
	return isIdentChar(c) || strings.IndexByte(")]\"`", c) >= 0
}

// literal replaces src[i:end] with "?" and returns end.
func (s *sanitizer) literal(i, end int) int {
	s.flush(i)
	s.b.WriteByte('?')
	s.tail = '?'
	s.last = end
	return end
}

// comment drops src[i:end], leaving a space unless the output so far is
// empty or already ends in whitespace, and returns end.
func (s *sanitizer) comment(i, end int) int {
	s.flush(i)
	if s.b.Len() > 0 && !isSpace(s.tail) {
		s.b.WriteByte(' ')
		s.tail = ' '
	}
	s.last = end
	return end
}

// flush copies src[last:i] to the output, first sizing the output for the
// whole query: replacements never make the text longer.
func (s *sanitizer) flush(i int) {
	if !s.dirty {
		s.b.Grow(len(s.src))
		s.dirty = true
	}
	if i > s.last {
		s.b.WriteString(s.src[s.last:i])
		s.tail = s.src[i-1]
	}
}

// prefixedQuote reports whether src[i:] starts a prefixed string literal:
// it returns the index of the opening quote, or -1, and whether backslash
// escapes apply (PostgreSQL's E'...').
func prefixedQuote(src string, i int) (quote int, backslash bool) {
	switch src[i] {
	case 'E', 'e':
		if byteAt(src, i+1) == '\'' {
			return i + 1, true
		}
	case 'N', 'n', 'X', 'x', 'B', 'b':
		if byteAt(src, i+1) == '\'' {
			return i + 1, false
		}
	case 'U', 'u':
		if byteAt(src, i+1) == '&' && byteAt(src, i+2) == '\'' {
			return i + 2, false
		}
	}
	return -1, false
}

// scanQuoted returns the index just past the quote q that closes text
// opened before src[j], or len(src) if none does. A doubled quote stands for
// itself; with backslash, so does a quote after a backslash.
func scanQuoted(src string, j int, q byte, backslash bool) int {
	for j < len(src) {
		switch src[j] {
		case '\\':
			if backslash {
				j += 2
				continue
			}
		case q:
			if byteAt(src, j+1) != q {
				return j + 1
			}
			j++ // a doubled quote
		}
		j++
	}
	return len(src)
}

// scanNumber returns the end of the numeric literal starting at src[i]
// (a digit, or a '.' before a digit): 42, 1.5, .5, 1., 1e10, 2.5E-3, 0x1F.
// Letters, digits and underscores glued to it are taken too, so 0b101,
// 0o17, 1_000 and the malformed 123abc are replaced whole.
func scanNumber(src string, i int) int {
	if src[i] == '0' && byteAt(src, i+1)|0x20 == 'x' {
		return scanAlnum(src, i+2)
	}
	j := scanDecimal(src, i)
	if byteAt(src, j) == '.' {
		j = scanDecimal(src, j+1)
	}
	if byteAt(src, j)|0x20 == 'e' {
		k := j + 1
		if c := byteAt(src, k); c == '+' || c == '-' {
			k++
		}
		if isDigit(byteAt(src, k)) {
			j = k
		}
	}
	return scanAlnum(src, j)
}

// blockEnd returns the index just past the "*/" that closes a block comment
// whose body starts at src[j], or len(src) if none does. With nest, inner
// "/*" open nested comments, as in PostgreSQL.
func blockEnd(src string, j int, nest bool) int {
	for depth := 1; j+1 < len(src); {
		switch {
		case src[j] == '*' && src[j+1] == '/':
			j += 2
			if depth--; depth == 0 {
				return j
			}
		case nest && src[j] == '/' && src[j+1] == '*':
			j += 2
			depth++
		default:
			j++
		}
	}
	return len(src)
}

// lineEnd returns the index of the first line break at or after src[j], or
// len(src): the end of a line comment, which leaves the line break itself.
func lineEnd(src string, j int) int {
	if k := strings.IndexAny(src[j:], "\n\r"); k >= 0 {
		return j + k
	}
	return len(src)
}

// scanWord returns the end of the unquoted identifier starting at src[i].
func scanWord(src string, i int) int {
	for i < len(src) && isIdentChar(src[i]) {
		i++
	}
	return i
}

// scanTag returns the end of the dollar-quote tag starting at src[i]: an
// identifier without '$'.
func scanTag(src string, i int) int {
	for i < len(src) && isIdentChar(src[i]) && src[i] != '$' {
		i++
	}
	return i
}

// scanDigits returns the end of the run of digits starting at src[i].
func scanDigits(src string, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

// scanDecimal returns the end of the run of digits and '_' separators
// (PostgreSQL 16's 1_000) starting at src[i].
func scanDecimal(src string, i int) int {
	for i < len(src) && (isDigit(src[i]) || src[i] == '_') {
		i++
	}
	return i
}

// scanAlnum returns the end of the run of ASCII letters, digits and '_'
// starting at src[i].
func scanAlnum(src string, i int) int {
	for i < len(src) && (isDigit(src[i]) || isLetter(src[i]) || src[i] == '_') {
		i++
	}
	return i
}

// byteAt returns src[i], or 0 past the end.
func byteAt(src string, i int) byte {
	if i < len(src) {
		return src[i]
	}
	return 0
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isSpace(c byte) bool  { return strings.IndexByte(space, c) >= 0 }

// isIdentStart reports whether c may start an unquoted identifier: a
// letter, '_', or any byte of a non-ASCII UTF-8 sequence.
func isIdentStart(c byte) bool { return class[c] == word }

// isIdentChar reports whether c may continue an unquoted identifier.
func isIdentChar(c byte) bool { return identChar[c] }

// Byte classes: what a byte can start, for the lexer's main loop.
const (
	other = iota // nothing: the byte is kept and the lexer moves on
	word         // an unquoted identifier or keyword, or a prefixed string
	token        // maybe a literal, comment, quoted identifier or placeholder
)

// class maps each byte to its class, and identChar tells the bytes that
// may continue an unquoted identifier. Tables keep the hot loops to one
// lookup per byte.
var class, identChar = func() (class [256]uint8, identChar [256]bool) {
	for c := range 256 {
		b := byte(c)
		switch {
		case isLetter(b) || b == '_' || b >= utf8.RuneSelf:
			class[c] = word
		case isDigit(b) || strings.IndexByte("'\"`$?-#/.", b) >= 0:
			class[c] = token
		}
		identChar[c] = class[c] == word || isDigit(b) || b == '$'
	}
	return class, identChar
}()

// Split returns the statements of text, cut at each semicolon that is not
// inside a string literal, a quoted identifier, a dollar-quoted string or a
// comment, read by the rules Sanitize reads them by. Each statement is
// trimmed of white space, and empty ones are dropped; the text of each is
// otherwise kept as written, comments included. Split knows no grammar, so
// a compound statement with semicolons inside it (a trigger's BEGIN ... END)
// must be given on its own.
func Split(text string, o Options) []string {
	var out []string
	s := sanitizer{src: text, mysql: o.DoubleQuotedStrings}
	start := 0
	cut := func(end int) {
		if stmt := strings.Trim(text[start:end], space); stmt != "" {
			out = append(out, stmt)
		}
	}
	for i := 0; i < len(text); {
		switch {
		case text[i] == ';':
			cut(i)
			i++
			start = i
		case class[text[i]] == word:
			i = s.word(i)
		case class[text[i]] == token:
			i = s.token(i)
		default:
			i++
		}
	}
	cut(len(text))
	return out
}
