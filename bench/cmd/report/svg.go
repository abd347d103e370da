package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chart renders the memory tables as horizontal bar panels (median ns/op, lower is better, on one
// log scale shared by every panel, with a line per decade): one row of panels per workload, one
// column per goroutine count.
func (r *results) chart(tables []table, subtitle string) string {
	const (
		colW   = 440 // width of one panel
		labelW = 120 // library names
		barH   = 16
		gap    = 5
		left   = 20
		top    = 62
	)
	cols := 2
	rowsN := (len(tables) + cols - 1) / cols
	maxRows := 0
	for _, t := range tables {
		maxRows = max(maxRows, len(t.rows))
	}
	panelH := 26 + maxRows*(barH+gap) + 18
	width := left*2 + cols*colW + (cols-1)*20
	height := top + rowsN*panelH + 10

	// The shared log scale: from the decade below the fastest median to the decade above the slowest.
	lo, hi := math.Inf(1), 0.0
	for _, t := range tables {
		for _, rw := range t.rows {
			if st, ok := r.get(rw.bench); ok && st.ns > 0 {
				lo, hi = min(lo, st.ns), max(hi, st.ns)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	barMax := float64(colW - labelW - 70)
	scale := func(ns float64) float64 { return (math.Log10(ns) - d0) / (d1 - d0) * barMax }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">In-memory caches: median ns/op (lower is better; log scale)</text>`+"\n", left)
	fmt.Fprintf(&b, `<text x="%d" y="44" fill="#555">%s</text>`+"\n", left, html.EscapeString(subtitle))
	for i, t := range tables {
		x0 := left + (i%cols)*(colW+20)
		y0 := top + (i/cols)*panelH
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0+14, html.EscapeString(t.title))
		gridBottom := y0 + 24 + len(t.rows)*(barH+gap)
		for d := d0; d <= d1; d++ {
			x := float64(x0+labelW) + scale(math.Pow(10, d))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, y0+20, x, gridBottom)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#888" text-anchor="middle">%s</text>`+"\n", x, gridBottom+11, fmtNS(math.Pow(10, d)))
		}
		for j, rw := range t.rows {
			y := y0 + 24 + j*(barH+gap)
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x0+labelW-6, y+barH-4, html.EscapeString(rw.label))
			st, ok := r.get(rw.bench)
			if !ok || st.ns <= 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#999">not run</text>`+"\n", x0+labelW, y+barH-4)
				continue
			}
			w := max(1, scale(st.ns))
			color := "#5b7fa6"
			if rw.ours {
				color = "#e8833a"
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0+labelW, y, w, barH, color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#333">%s</text>`+"\n", float64(x0+labelW)+w+4, y+barH-4, html.EscapeString(fmtNS(st.ns)))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}
