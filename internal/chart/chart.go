// Package chart renders small bar and line charts as inline SVG for the
// server-rendered UI: no script, no style attributes (the pages' CSP
// allows none), colours from CSS classes (.chart .s0 … .s7). Every chart
// carries a <title> and a <desc> for assistive technology, and every bar
// or point its value in data-value, so tests and scripts read the numbers
// the picture shows. Text is escaped by html/template.
package chart

import (
	"bytes"
	"html/template"
	"math"
	"strconv"
)

// Series is one set of values, one per label.
type Series struct {
	Name   string
	Values []float64
}

// Chart is what both kinds share.
type Chart struct {
	// ID is the <svg> element's id (optional).
	ID string
	// Title names the chart; Desc says in words what it shows.
	Title, Desc string
	// Labels name the categories (x axis), Series the values per label.
	Labels []string
	Series []Series
	// Width and Height of the drawing in px (defaults 640×240).
	Width, Height int
	// Max fixes the axis' top value (e.g. 100 for percentages); 0: the
	// largest value rounded up by NiceMax.
	Max float64
}

// Geometry of the plot area inside the drawing.
const (
	padLeft   = 44
	padRight  = 12
	padTop    = 12
	padBottom = 40
	maxClass  = 8
)

// Bar is one drawn bar.
type Bar struct {
	X, Y, W, H float64
	Value      float64
	Label      string
	Series     string
	Class      string // s0 … s7, by series
}

// Point is one vertex of a line.
type Point struct {
	X, Y  float64
	Value float64
	Label string
}

// Line is one series drawn as a polyline.
type Line struct {
	Series string
	Class  string
	Points []Point
}

// Tick is a horizontal grid line with its value.
type Tick struct {
	Y     float64
	Value string
}

// XLabel is a category name under the axis.
type XLabel struct {
	X    float64
	Text string
}

// Layout is a chart's computed drawing.
type Layout struct {
	Width, Height          float64
	Left, Top, Right, Base float64 // plot area; Base is the y of value 0
	Max                    float64 // the axis' top value
	Ticks                  []Tick
	XLabels                []XLabel
	Bars                   []Bar
	Lines                  []Line
}

func (c Chart) size() (float64, float64) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 240
	}
	return float64(w), float64(h)
}

// NiceMax rounds the largest value up to 1, 2 or 5 times a power of ten
// (at least 1), the top of the axis.
func NiceMax(v float64) float64 {
	if v <= 1 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// value clamps what cannot be drawn (negative, NaN) to 0.
func value(v float64) float64 {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (c Chart) frame() Layout {
	w, h := c.size()
	l := Layout{Width: w, Height: h, Left: padLeft, Top: padTop, Right: w - padRight, Base: h - padBottom}
	top := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			top = math.Max(top, value(v))
		}
	}
	l.Max = NiceMax(top)
	if c.Max > 0 {
		l.Max = c.Max
	}
	steps := tickSteps(l.Max)
	for i := 0; i <= steps; i++ {
		v := l.Max * float64(i) / float64(steps)
		l.Ticks = append(l.Ticks, Tick{Y: l.y(v), Value: format(v)})
	}
	return l
}

// tickSteps divides an axis into round steps: 2×10ⁿ in 4, 1×10ⁿ and
// 5×10ⁿ in 5.
func tickSteps(top float64) int {
	k := top / math.Pow(10, math.Floor(math.Log10(top)))
	if math.Abs(k-2) < 1e-9 {
		return 4
	}
	return 5
}

// y maps a value to its height on the drawing.
func (l Layout) y(v float64) float64 {
	return l.Base - value(v)/l.Max*(l.Base-l.Top)
}

// BarLayout places grouped bars: one group per label, one bar per series
// in it; a bar's height is value/Max of the plot's height.
func (c Chart) BarLayout() Layout {
	l := c.frame()
	if len(c.Labels) == 0 {
		return l
	}
	group := (l.Right - l.Left) / float64(len(c.Labels))
	n := max(len(c.Series), 1)
	gap := group * 0.2
	bw := (group - gap) / float64(n)
	for i, label := range c.Labels {
		x0 := l.Left + float64(i)*group + gap/2
		l.XLabels = append(l.XLabels, XLabel{X: l.Left + (float64(i)+0.5)*group, Text: label})
		for k, s := range c.Series {
			v := 0.0
			if i < len(s.Values) {
				v = value(s.Values[i])
			}
			y := l.y(v)
			l.Bars = append(l.Bars, Bar{X: x0 + float64(k)*bw, Y: y, W: bw, H: l.Base - y, Value: v,
				Label: label, Series: s.Name, Class: "s" + strconv.Itoa(k%maxClass)})
		}
	}
	return l
}

// LineLayout places one polyline per series, a point per label at the
// middle of its column.
func (c Chart) LineLayout() Layout {
	l := c.frame()
	if len(c.Labels) == 0 {
		return l
	}
	col := (l.Right - l.Left) / float64(len(c.Labels))
	for i, label := range c.Labels {
		l.XLabels = append(l.XLabels, XLabel{X: l.Left + (float64(i)+0.5)*col, Text: label})
	}
	for k, s := range c.Series {
		ln := Line{Series: s.Name, Class: "s" + strconv.Itoa(k%maxClass)}
		for i, label := range c.Labels {
			v := 0.0
			if i < len(s.Values) {
				v = value(s.Values[i])
			}
			ln.Points = append(ln.Points, Point{X: l.Left + (float64(i)+0.5)*col, Y: l.y(v), Value: v, Label: label})
		}
		l.Lines = append(l.Lines, ln)
	}
	return l
}

// Figure wraps a rendered chart in a <figure> whose caption is the
// chart's title, shown to everyone (the SVG's own title is for assistive
// technology and tooltips).
func (c Chart) Figure(svg template.HTML) template.HTML {
	var b bytes.Buffer
	if err := figure.Execute(&b, map[string]any{"C": c, "SVG": svg}); err != nil {
		panic(err)
	}
	return template.HTML(b.String()) //nolint:gosec // produced by html/template
}

var figure = template.Must(template.New("figure").Parse(`<figure class="chart-box"{{with .C.ID}} id="fig-{{.}}"{{end}}><figcaption>{{.C.Title}}</figcaption>{{.SVG}}</figure>`))

// BarSVG renders grouped bars.
func (c Chart) BarSVG() template.HTML { return c.render("bar", c.BarLayout()) }

// LineSVG renders lines.
func (c Chart) LineSVG() template.HTML { return c.render("line", c.LineLayout()) }

func (c Chart) render(kind string, l Layout) template.HTML {
	// Only every n-th category is named when the names would overlap.
	every := 1
	if n := len(l.XLabels); n > 0 {
		every = int(math.Ceil(float64(n) * 44 / (l.Right - l.Left)))
		every = max(every, 1)
	}
	var legend []legendItem
	step := 130.0
	if n := len(c.Series); n > 0 {
		step = math.Min(step, (l.Right-l.Left)/float64(n))
	}
	for k, s := range c.Series {
		legend = append(legend, legendItem{Name: s.Name, Class: "s" + strconv.Itoa(k%maxClass), X: l.Left + float64(k)*step})
	}
	if c.ID == "" {
		c.ID = "chart"
	}
	var b bytes.Buffer
	err := svg.Execute(&b, map[string]any{"C": c, "L": l, "Kind": kind, "Every": every, "Legend": legend,
		"LegendY": l.Height - 8, "LabelY": l.Base + 14})
	if err != nil {
		// Only a broken template gets here: a build defect.
		panic(err)
	}
	return template.HTML(b.String()) //nolint:gosec // produced by html/template
}

type legendItem struct {
	Name  string
	Class string
	X     float64
}

func format(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func px(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func points(ps []Point) string {
	var b []byte
	for i, p := range ps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, px(p.X)...)
		b = append(b, ',')
		b = append(b, px(p.Y)...)
	}
	return string(b)
}

var svg = template.Must(template.New("svg").Funcs(template.FuncMap{
	"px": px, "num": format, "points": points, "add": func(a, b float64) float64 { return a + b },
	"show": func(i, every int) bool { return i%every == 0 },
}).Parse(`<svg class="chart {{.Kind}}" id="{{.C.ID}}" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{px .L.Width}} {{px .L.Height}}" width="{{px .L.Width}}" height="{{px .L.Height}}" aria-labelledby="{{.C.ID}}-title {{.C.ID}}-desc" data-max="{{num .L.Max}}">
<title id="{{.C.ID}}-title">{{.C.Title}}</title>
<desc id="{{.C.ID}}-desc">{{.C.Desc}}</desc>
<g class="axis">{{range .L.Ticks}}<line x1="{{px $.L.Left}}" x2="{{px $.L.Right}}" y1="{{px .Y}}" y2="{{px .Y}}"/><text x="{{px (add $.L.Left -6)}}" y="{{px (add .Y 4)}}" text-anchor="end">{{.Value}}</text>{{end}}</g>
<g class="labels">{{range $i, $x := .L.XLabels}}{{if show $i $.Every}}<text x="{{px $x.X}}" y="{{px $.LabelY}}" text-anchor="middle">{{$x.Text}}</text>{{end}}{{end}}</g>
{{if eq .Kind "bar"}}<g class="bars">{{range .L.Bars}}<rect class="bar {{.Class}}" x="{{px .X}}" y="{{px .Y}}" width="{{px .W}}" height="{{px .H}}" data-value="{{num .Value}}" data-label="{{.Label}}" data-series="{{.Series}}"><title>{{.Label}} · {{.Series}}: {{num .Value}}</title></rect>{{end}}</g>
{{else}}<g class="lines">{{range $ln := .L.Lines}}<g class="line {{.Class}}" data-series="{{.Series}}"><polyline points="{{points .Points}}"/>{{range .Points}}<circle class="{{$ln.Class}}" cx="{{px .X}}" cy="{{px .Y}}" r="3" data-value="{{num .Value}}" data-label="{{.Label}}" data-series="{{$ln.Series}}"><title>{{.Label}} · {{$ln.Series}}: {{num .Value}}</title></circle>{{end}}</g>{{end}}</g>
{{end}}<g class="legend">{{range .Legend}}<rect class="{{.Class}}" x="{{px .X}}" y="{{px (add $.LegendY -9)}}" width="10" height="10"/><text x="{{px (add .X 14)}}" y="{{px $.LegendY}}">{{.Name}}</text>{{end}}</g>
</svg>`))
