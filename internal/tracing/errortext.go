package tracing

import "unicode/utf8"

// maxErrorText bounds a span's status description, in bytes.
const maxErrorText = 512

// ErrorText is an error's message as a span's status description shows it:
// what it quotes ('…' and "…": a value the server echoes, as in `invalid
// input syntax for type integer: "secret"` or MySQL's `Duplicate entry
// 'secret'`) is replaced by ?, and the rest is kept as it is, addresses,
// SQLSTATEs and pool names included: an error is not SQL, and reading it as
// SQL (where # starts a comment and numbers are literals) loses its cause.
// An apostrophe inside a word (can't) quotes nothing. Passwords never reach
// it: sqlpool masks them in dial errors where the error is made.
func ErrorText(msg string) string {
	out := make([]byte, 0, min(len(msg), maxErrorText)+4)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if (c == '\'' || c == '"') && !(c == '\'' && i > 0 && isWordByte(msg[i-1])) {
			end := i + 1
			for end < len(msg) && msg[end] != c {
				end++
			}
			out = append(out, c, '?')
			if end < len(msg) {
				out = append(out, c)
			}
			i = end
		} else {
			out = append(out, c)
		}
		if len(out) > maxErrorText {
			cut := maxErrorText
			for cut > 0 && !utf8.RuneStart(out[cut]) {
				cut--
			}
			return string(out[:cut]) + "…"
		}
	}
	return string(out)
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
}
