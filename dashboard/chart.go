package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool"
)

// chart is a pool's history drawn as inline SVG: three small panels sharing
// a time axis (connections in use, operations waiting, mean wait), so that
// a long queue does not flatten the connections.
type chart struct {
	SVG template.HTML // built from numbers and fixed text only
}

// Geometry, in SVG user units; the SVG scales to its container's width.
const (
	chartW      = 760.0
	panelH      = 44.0
	panelGap    = 26.0 // room for a panel's title above it
	chartTop    = 16.0
	axisH       = 16.0
	minWindow   = 30 * time.Second
	chartPanels = 3
)

// The colours of the series; the page's legend uses the same.
const (
	colorInUse   = "#2563eb"
	colorWaiting = "#ea580c"
	colorWait    = "#7c3aed"
	colorAlert   = "#dc2626" // the page's --red, its alert badges' colour
)

type series struct {
	title  string
	color  string
	values []float64
	top    float64 // the value at the top of the panel
	format func(float64) string
	ref    string // a label for the top line, "max 8"; "" for a plain scale
}

func newChart(s *sqlpool.Snapshot, now time.Time) chart {
	h := s.History
	inUse := make([]float64, len(h))
	waiting := make([]float64, len(h))
	wait := make([]float64, len(h))
	var peakWaiting, peakWait float64
	for i, smp := range h {
		inUse[i] = float64(smp.InUse)
		waiting[i] = float64(smp.Waiting)
		wait[i] = smp.MeanWait().Seconds()
		peakWaiting = max(peakWaiting, waiting[i])
		peakWait = max(peakWait, wait[i])
	}
	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	panels := [chartPanels]series{
		{"connections in use", colorInUse, inUse, float64(max(s.MaxSize, 1)), count, fmt.Sprintf("max %d", s.MaxSize)},
		{"operations waiting", colorWaiting, waiting, niceCeil(max(peakWaiting, 1)), count, ""},
		{"mean wait for a connection", colorWait, wait, niceCeil(max(peakWait, 0.001)), func(v float64) string { return formatDuration(time.Duration(v * float64(time.Second))) }, ""},
	}

	window := minWindow
	if len(h) > 0 {
		window = min(max(now.Sub(h[0].At), minWindow), 10*time.Minute)
	}
	x := func(t time.Time) float64 {
		return math.Max(0, chartW*(1-now.Sub(t).Seconds()/window.Seconds()))
	}

	height := chartTop + chartPanels*(panelH+panelGap) - panelGap + axisH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="history of the last %s" xmlns="http://www.w3.org/2000/svg">`,
		chartW, height, formatDuration(window))
	for i, p := range panels {
		top := chartTop + float64(i)*(panelH+panelGap)
		bottom := top + panelH
		y := func(v float64) float64 { return bottom - math.Min(v/p.top, 1)*panelH }
		// The gauges say what is now; the title says the worst of the window.
		peak := "–"
		if len(p.values) > 0 {
			peak = p.format(slices.Max(p.values))
		}
		fmt.Fprintf(&b, `<text x="0" y="%.1f" class="ct">%s · peak <tspan class="cv" fill="%s">%s</tspan></text>`,
			top-6, esc(p.title), p.color, esc(peak))
		scale := p.format(p.top)
		if p.ref != "" {
			scale = p.ref
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" class="cs" text-anchor="end">%s</text>`, chartW, top-6, esc(scale))
		fmt.Fprintf(&b, `<rect x="0" y="%.1f" width="%.0f" height="%.0f" class="cb"/>`, top, chartW, panelH)
		fmt.Fprintf(&b, `<line x1="0" x2="%.0f" y1="%.1f" y2="%.1f" class="cg"/>`, chartW, top, top)
		if len(h) < 2 {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" class="cs" text-anchor="middle">collecting: one sample a second</text>`, chartW/2, top+panelH/2+4)
			continue
		}
		// An area: along the samples, then down to the baseline.
		var pts strings.Builder
		fmt.Fprintf(&pts, "%.1f,%.1f", x(h[0].At), bottom)
		for j, v := range p.values {
			fmt.Fprintf(&pts, " %.1f,%.1f", x(h[j].At), y(v))
		}
		fmt.Fprintf(&pts, " %.1f,%.1f", x(h[len(h)-1].At), bottom)
		fmt.Fprintf(&b, `<polygon points="%s" fill="%s" fill-opacity="0.18" stroke="none"/>`, pts.String(), p.color)
		var line strings.Builder
		for j, v := range p.values {
			if j > 0 {
				line.WriteByte(' ')
			}
			fmt.Fprintf(&line, "%.1f,%.1f", x(h[j].At), y(v))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-linejoin="round"/>`, line.String(), p.color)
	}
	alertMarks(&b, s.AlertEvents, now, window, x, chartTop+chartPanels*(panelH+panelGap)-panelGap)
	axisY := height - 3
	fmt.Fprintf(&b, `<text x="0" y="%.1f" class="cs">−%s</text>`, axisY, esc(axisLabel(window)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" class="cs" text-anchor="middle">−%s</text>`, chartW/2, axisY, esc(axisLabel(window/2)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" class="cs" text-anchor="end">now</text>`, chartW, axisY)
	b.WriteString(`</svg>`)
	return chart{SVG: template.HTML(b.String())} //nolint:gosec // numbers and fixed text, escaped
}

func esc(s string) string { return html.EscapeString(s) }

// axisLabel writes a time span of the chart: "5m", "2m30s", "45s".
func axisLabel(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d > time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// alertMarks draws a line across the panels, down to bottom, where each
// alert of events fired within the chart's window (up to now), named at
// its top; x places a time. Alerts that fire together share the line; a
// name that would run into another goes a row lower. Clearings are not
// drawn: the badge says whether an alert still fires.
func alertMarks(b *strings.Builder, events []sqlpool.Alert, now time.Time, window time.Duration, x func(time.Time) float64, bottom float64) {
	type mark struct {
		x     float64
		names []string
		title []string
	}
	var marks []mark
	for _, ev := range events {
		if !ev.Firing || ev.Since.After(now) || now.Sub(ev.Since) > window {
			continue
		}
		px := x(ev.Since)
		title := fmt.Sprintf("%s fired at %s: %s", ev.Name, ev.Since.Format("15:04:05"), ev.Message)
		// Within a few units of the last, it would draw over it.
		if n := len(marks); n > 0 && math.Abs(marks[n-1].x-px) < 4 {
			marks[n-1].names = append(marks[n-1].names, ev.Name)
			marks[n-1].title = append(marks[n-1].title, title)
			continue
		}
		marks = append(marks, mark{px, []string{ev.Name}, []string{title}})
	}
	// The names' rows, within the first panel: where each row's last name
	// ends, left to right.
	const rows, rowH, charW = 4, markRowH, 5.4 // rows × rowH within panelH; charW: 9px bold, about
	var ends [rows]float64
	for i := range ends {
		ends[i] = math.Inf(-1)
	}
	for _, m := range marks {
		fmt.Fprintf(b, `<g class="alert-mark" data-alerts="%s"><title>%s</title>`, esc(strings.Join(m.names, " ")), esc(strings.Join(m.title, "\n")))
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.25"/>`, m.x, m.x, chartTop, bottom, colorAlert)
		fmt.Fprintf(b, `<path d="M%.1f %.1fl-4 -6h8z" fill="%s"/>`, m.x, chartTop, colorAlert)
		for _, name := range m.names {
			w := float64(len(name)) * charW
			// Right of the line, or left of it near the chart's right edge.
			lo, anchor, tx := m.x+3, "start", m.x+3
			if lo+w > chartW {
				lo, anchor, tx = m.x-3-w, "end", m.x-3
			}
			row := 0
			for row < rows-1 && ends[row] > lo {
				row++
			}
			ends[row] = max(ends[row], lo+w+4)
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="ca" text-anchor="%s">%s</text>`, tx, chartTop+9+float64(row)*rowH, anchor, esc(name))
		}
		b.WriteString(`</g>`)
	}
}

// markRowH is the height of a row of alert names on the chart.
const markRowH = 10.0
