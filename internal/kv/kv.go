// Package kv reads libpq's keyword=value connection strings, such as
// "host=h dbname=d password='a b'", as libpq's conninfo_parse does. sqlpool
// uses it to take its pool_* settings out of such a DSN, and internal/redact
// to find the passwords in one.
package kv

import (
	"errors"
	"regexp"
	"strings"
)

// Token is one keyword=value setting of a libpq keyword DSN.
type Token struct {
	Start, End int    // the setting's text is s[Start:End]
	Key        string // as written
	Value      string // unquoted and unescaped
	RawValue   string // as written, without the enclosing quotes
}

// ErrMissingEquals is the error for a keyword without "=" after it.
var ErrMissingEquals = errors.New(`a keyword is not followed by "="`)

// ErrUnterminated is the error for a quoted value without its closing quote.
var ErrUnterminated = errors.New("a quoted value has no closing quote")

// dsnStart is how a libpq keyword=value DSN starts. No URL, SQLite URI or
// mysql DSN starts this way: a scheme or user name is followed by ':' or
// '@', which the first keyword cannot contain.
var dsnStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_.]*\s*=`)

// IsDSN reports whether s is a keyword DSN rather than a URL, SQLite URI or
// mysql DSN: whether it starts with a keyword and "=".
func IsDSN(s string) bool { return dsnStart.MatchString(s) }

// Parse splits s as libpq's conninfo_parse does: settings separated by
// white space, "key = value" with optional spaces around '=', values either
// bare (up to white space) or in single quotes, '\' escaping the next byte
// in both. On an error it returns the settings read so far, and for an
// unterminated quote a last setting whose value runs to the end.
func Parse(s string) ([]Token, error) {
	var toks []Token
	i := 0
	for {
		for i < len(s) && IsSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return toks, nil
		}
		tok, err := ParseSetting(s, i)
		if err == ErrMissingEquals {
			return toks, err
		}
		toks = append(toks, tok)
		if err != nil {
			return toks, err
		}
		i = tok.End
	}
}

// ParseSetting reads the setting that starts at s[start], which is not
// white space. Its error is ErrMissingEquals, with a zero Token, or
// ErrUnterminated, with the setting whose value runs to the end of s.
func ParseSetting(s string, start int) (Token, error) {
	i := start
	skipSpace := func() {
		for i < len(s) && IsSpace(s[i]) {
			i++
		}
	}
	for i < len(s) && s[i] != '=' && !IsSpace(s[i]) {
		i++
	}
	key := s[start:i]
	skipSpace()
	if i == len(s) || s[i] != '=' {
		return Token{}, ErrMissingEquals
	}
	i++
	skipSpace()
	quoted := i < len(s) && s[i] == '\''
	if quoted {
		i++
	}
	vstart := i
	value, i := readValue(s, i, quoted)
	tok := Token{Start: start, Key: key, Value: value, RawValue: s[vstart:i]}
	if quoted {
		if i == len(s) {
			tok.End = i
			return tok, ErrUnterminated
		}
		i++ // the closing quote
	}
	tok.End = i
	return tok, nil
}

// readValue reads the value that starts at s[i] (after its opening quote,
// if quoted) up to its closing quote, or white space if not quoted, '\'
// escaping the next byte. It returns the value unescaped, and where it ends:
// at the closing quote or white space, or len(s).
func readValue(s string, i int, quoted bool) (string, int) {
	var v strings.Builder
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i++
			if i < len(s) {
				v.WriteByte(s[i])
				i++
			}
			continue
		}
		if quoted && c == '\'' || !quoted && IsSpace(c) {
			break
		}
		v.WriteByte(c)
		i++
	}
	return v.String(), i
}

// IsSpace is C's isspace, which libpq uses between settings.
func IsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
