package redact

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Mask replaces each run of secret text in a redacted message.
const Mask = "xxxxx"

// redactedError is an error whose message had secrets taken out. Unwrap
// returns what the original wraps, redacted the same way: the driver's error
// itself often quotes the secret (net/url's *url.Error quotes the whole URL),
// and errors.Unwrap, errors.As and error reporters that walk the chain would
// show it. Errors without a secret in their message come back as they are,
// so errors.Is(err, driver.ErrBadConn) works; the original is not reachable.
type redactedError struct {
	msg     string
	err     error // the original
	secrets []string
}

func (e *redactedError) Error() string { return e.msg }

// GoString is what %#v prints: the message only, never the original or
// the secrets. It keeps the name the type had when it lived in package
// sqlpool, whose errors these are to a user.
func (e *redactedError) GoString() string {
	return fmt.Sprintf("&sqlpool.redactedError{msg:%q}", e.msg)
}

func (e *redactedError) Unwrap() error { return Error(errors.Unwrap(e.err), e.secrets) }

// redactedErrors is a redactedError whose original wraps several errors.
type redactedErrors struct{ redactedError }

func (e *redactedErrors) Unwrap() []error {
	errs := e.err.(interface{ Unwrap() []error }).Unwrap()
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		if err != nil {
			out = append(out, Error(err, e.secrets))
		}
	}
	return out
}

// Error returns err with every secret replaced by Mask in its message. nil
// stays nil, and an error that shows no secret, in its message or as %#v
// prints it or any error it wraps, is returned unchanged: the driver's own
// error value, for errors.As and type assertions. Otherwise the error it
// returns prints (%v, %+v, %#v) its redacted message only, and its Unwrap
// returns what err wraps, redacted the same way.
func Error(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	red, changed := String(msg, secrets)
	if !changed && !showsSecret(err, secrets) {
		return err
	}
	e := redactedError{msg: red, err: err, secrets: secrets}
	if _, ok := err.(interface{ Unwrap() []error }); ok {
		return &redactedErrors{e}
	}
	return &e
}

// showsSecret reports whether err, or an error it wraps, shows a secret
// where its message does not: in its fields, as %#v prints them (pgx's
// *pgconn.ParseConfigError masks the password in its message but keeps
// the connection string in a field).
func showsSecret(err error, secrets []string) bool {
	return anyInChain(err, func(e error) bool {
		if _, ok := e.(*redactedError); ok {
			return false
		}
		for _, form := range []string{e.Error(), fmt.Sprintf("%#v", e), fmt.Sprintf("%+v", e)} {
			if _, changed := String(form, secrets); changed {
				return true
			}
		}
		return false
	})
}

// anyInChain reports whether f holds for err or an error it wraps, through
// Unwrap() error and Unwrap() []error. (The root package's dialerrors.go
// has the same walk; an internal package cannot import the root.)
func anyInChain(err error, f func(error) bool) bool {
	if err == nil {
		return false
	}
	if f(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return anyInChain(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		return slices.ContainsFunc(u.Unwrap(), func(e error) bool { return anyInChain(e, f) })
	}
	return false
}

// String replaces every run of text covered by an occurrence of a secret in
// s with Mask, and reports whether there was any. Marking first and
// replacing once means overlapping secrets, or one inside another, leave no
// piece of either behind.
func String(s string, secrets []string) (string, bool) {
	covered := coverage(s, secrets)
	if covered == nil {
		return s, false
	}
	return mask(s, covered), true
}

// coverage marks the bytes of s that are in an occurrence of a secret, or
// returns nil if there are none. Occurrences may overlap: the search goes
// on from the byte after each one's start.
func coverage(s string, secrets []string) []bool {
	var covered []bool
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], sec)
			if i < 0 {
				break
			}
			if covered == nil {
				covered = make([]bool, len(s))
			}
			i += from
			for k := i; k < i+len(sec); k++ {
				covered[k] = true
			}
			from = i + 1
		}
	}
	return covered
}

// mask returns s with each run of covered bytes replaced by Mask.
func mask(s string, covered []bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(Mask)
		for i < len(s) && covered[i] {
			i++
		}
	}
	return b.String()
}
