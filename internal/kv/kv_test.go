package kv_test

import (
	"reflect"
	"testing"

	"github.com/sqlpool/sqlpool/internal/kv"
)

func TestIsDSN(t *testing.T) {
	for s, want := range map[string]bool{
		"host=db":                     true,
		"  dbname = app":              true,
		"pool.x=1":                    true,
		"postgres://app@db/app":       false,
		"app:pw@tcp(db)/app":          false,
		"file:app.db?mode=ro":         false,
		"=x":                          false,
		"":                            false,
		"1host=db":                    false,
		"server=db;password=p;":       true,
		"host db":                     false,
		"sqlserver://sa@h?database=m": false,
	} {
		if got := kv.IsDSN(s); got != want {
			t.Errorf("IsDSN(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want []kv.Token
		err  error
	}{
		{"", nil, nil},
		{" host=db  dbname = app ", []kv.Token{
			{Start: 1, End: 8, Key: "host", Value: "db", RawValue: "db"},
			{Start: 10, End: 22, Key: "dbname", Value: "app", RawValue: "app"},
		}, nil},
		{`password='a b\'c\\'x=`, []kv.Token{
			{Start: 0, End: 19, Key: "password", Value: `a b'c\`, RawValue: `a b\'c\\`},
			{Start: 19, End: 21, Key: "x", Value: "", RawValue: ""},
		}, nil},
		{`password=a\ b`, []kv.Token{{Start: 0, End: 13, Key: "password", Value: "a b", RawValue: `a\ b`}}, nil},
		{"host=db stray", []kv.Token{{Start: 0, End: 7, Key: "host", Value: "db", RawValue: "db"}}, kv.ErrMissingEquals},
		{"host=db password='a b", []kv.Token{
			{Start: 0, End: 7, Key: "host", Value: "db", RawValue: "db"},
			{Start: 8, End: 21, Key: "password", Value: "a b", RawValue: "a b"},
		}, kv.ErrUnterminated},
	} {
		got, err := kv.Parse(tt.s)
		if err != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.s, got, err, tt.want, tt.err)
		}
	}
}

func TestParseSetting(t *testing.T) {
	const s = "host=db password = 'p w' port"
	tok, err := kv.ParseSetting(s, 8)
	if want := (kv.Token{Start: 8, End: 24, Key: "password", Value: "p w", RawValue: "p w"}); err != nil || tok != want {
		t.Errorf("ParseSetting(%q, 8) = %+v, %v; want %+v, nil", s, tok, err, want)
	}
	if tok, err := kv.ParseSetting(s, 25); err != kv.ErrMissingEquals || tok != (kv.Token{}) {
		t.Errorf("ParseSetting(%q, 25) = %+v, %v; want a zero Token and ErrMissingEquals", s, tok, err)
	}
}
