package dashboard

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

//go:embed page.html
var pageSource string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"dur":       formatDuration,
	"count":     formatCount,
	"shortFunc": shortFunc,
	"shortLoc":  shortLocation,
	"pct":       func(n, of int) float64 { return 100 * float64(min(n, of)) / float64(max(of, 1)) },
	"sub":       func(a, b int) int { return a - b },
	"library":   func(c connReport, i int) bool { return c.OriginIdx >= 0 && i < c.OriginIdx },
}).Parse(pageSource))

// scriptCSP allows the page's one inline script, and only it, by its hash:
// the hash of the script as html/template renders it (it drops comments).
var scriptCSP = func() string {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, pageData{}); err != nil {
		panic(err)
	}
	m := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindSubmatch(buf.Bytes())
	if m == nil {
		return "'none'"
	}
	sum := sha256.Sum256(m[1])
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// pageData is what the template renders.
type pageData struct {
	report
	Refresh       int    // seconds; 0: no reload
	Pool          string // the ?pool= filter, or ""
	JSONLink      string
	PauseLink     string
	ResumeLink    string
	Filtered      bool
	TotalInUse    int
	TotalMax      int
	TotalWait     int
	TotalSuspects int
	TotalFiring   int // alerts firing
}

func (h handler) servePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	refresh := int(defaultRefresh / time.Second)
	if v := q.Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			refresh = min(n, 3600)
		}
	}
	d := pageData{report: h.build(r), Refresh: refresh, Pool: q.Get("pool")}
	link := func(refresh string) string {
		v := make([]string, 0, 2)
		if d.Pool != "" {
			v = append(v, "pool="+urlQueryEscape(d.Pool))
		}
		if refresh != "" {
			v = append(v, "refresh="+refresh)
		}
		if len(v) == 0 {
			return "./"
		}
		return "./?" + strings.Join(v, "&")
	}
	d.JSONLink = "json"
	if d.Pool != "" {
		d.JSONLink = "json?pool=" + urlQueryEscape(d.Pool)
	}
	d.PauseLink = link("0")
	d.ResumeLink = link("")
	d.Filtered = d.Pool != ""
	for _, p := range d.Pools {
		d.TotalInUse += p.InUse
		d.TotalMax += p.Max
		d.TotalWait += p.Waiting
		d.TotalSuspects += p.Suspects
		d.TotalFiring += len(p.Firing)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src "+scriptCSP+"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Write(buf.Bytes())
}

func urlQueryEscape(s string) string { return template.URLQueryEscaper(s) }

// formatDuration writes d in at most about five characters: "850ms",
// "2.3s", "42s", "4m05s", "2h03m", "3d04h".
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + formatDuration(-d)
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// formatCount writes n with thousands separators: "12,345".
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shortFunc drops a function's package path but its last element:
// "github.com/acme/orders/store.(*Store).Get" gives "store.(*Store).Get".
func shortFunc(f string) string {
	if i := strings.LastIndexByte(f, '/'); i >= 0 {
		return f[i+1:]
	}
	return f
}

// shortLocation keeps a file:line's last directory: "/src/app/store/get.go:12"
// gives "store/get.go:12".
func shortLocation(loc string) string {
	dir, file := path.Split(loc)
	return path.Join(path.Base(dir), file)
}
