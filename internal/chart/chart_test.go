package chart

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNiceMax(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 1}, {-3, 1}, {1, 1}, {1.5, 2}, {2, 2}, {3, 5}, {7, 10}, {10, 10}, {11, 20}, {48, 50}, {120, 200}, {math.NaN(), 1},
	} {
		if got := NiceMax(c.in); !near(got, c.want) {
			t.Errorf("NiceMax(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestTicksAndFixedMax(t *testing.T) {
	l := Chart{Labels: []string{"a"}, Series: []Series{{Name: "n", Values: []float64{3}}}}.BarLayout()
	var got []string
	for _, tk := range l.Ticks {
		got = append(got, tk.Value)
	}
	if strings.Join(got, " ") != "0 1 2 3 4 5" {
		t.Errorf("ticks of 0..5: %v", got)
	}
	l = Chart{Max: 100, Labels: []string{"a"}, Series: []Series{{Name: "%", Values: []float64{25}}}}.BarLayout()
	if l.Max != 100 || !near(l.Bars[0].H, (l.Base-l.Top)/4) {
		t.Errorf("fixed max: %v, height %v", l.Max, l.Bars[0].H)
	}
	if f := string(Chart{ID: "x", Title: "T<"}.Figure("<svg></svg>")); f != `<figure class="chart-box" id="fig-x"><figcaption>T&lt;</figcaption><svg></svg></figure>` {
		t.Errorf("figure: %s", f)
	}
}

func TestBarHeightsAreProportional(t *testing.T) {
	c := Chart{Width: 400, Height: 200, Labels: []string{"a", "b", "c", "d"},
		Series: []Series{{Name: "booked", Values: []float64{0, 2, 5, -1}}, {Name: "capacity", Values: []float64{5, 5, 5}}}}
	l := c.BarLayout()
	plot := l.Base - l.Top
	if l.Max != 5 || !near(plot, 200-padTop-padBottom) {
		t.Fatalf("max %v, plot height %v", l.Max, plot)
	}
	if len(l.Bars) != 8 {
		t.Fatalf("%d bars, want 8 (4 labels × 2 series)", len(l.Bars))
	}
	want := []float64{0, 5, 2, 5, 5, 5, 0, 0} // label-major; negative and missing values draw as 0
	for i, b := range l.Bars {
		if b.Value != want[i] || !near(b.H, want[i]/5*plot) || !near(b.Y+b.H, l.Base) {
			t.Errorf("bar %d (%s/%s): value %v height %v y %v, want value %v height %v on the base %v",
				i, b.Label, b.Series, b.Value, b.H, b.Y, want[i], want[i]/5*plot, l.Base)
		}
	}
	// Bars of a group sit side by side inside their column, columns in order.
	col := (l.Right - l.Left) / 4
	for i, b := range l.Bars {
		g := float64(i / 2)
		if b.X < l.Left+g*col || b.X+b.W > l.Left+(g+1)*col+1e-9 {
			t.Errorf("bar %d at x %v..%v leaves its column %v..%v", i, b.X, b.X+b.W, l.Left+g*col, l.Left+(g+1)*col)
		}
	}
	if l.Bars[0].Class != "s0" || l.Bars[1].Class != "s1" {
		t.Errorf("classes %q %q", l.Bars[0].Class, l.Bars[1].Class)
	}
}

func TestAllZeroAndEmpty(t *testing.T) {
	l := Chart{Labels: []string{"x"}, Series: []Series{{Name: "n", Values: []float64{0}}}}.BarLayout()
	if l.Max != 1 || l.Bars[0].H != 0 {
		t.Fatalf("all zero: max %v height %v", l.Max, l.Bars[0].H)
	}
	if l := (Chart{}).BarLayout(); len(l.Bars) != 0 {
		t.Fatalf("no labels drew %d bars", len(l.Bars))
	}
	if s := (Chart{Title: "Nothing"}).BarSVG(); !strings.Contains(string(s), "<title id=\"chart-title\">Nothing</title>") {
		t.Fatalf("empty chart: %s", s)
	}
}

func TestLinePoints(t *testing.T) {
	c := Chart{Width: 300, Height: 150, Labels: []string{"09", "10", "11"},
		Series: []Series{{Name: "QUEUED", Values: []float64{1, 4, 2}}}}
	l := c.LineLayout()
	if l.Max != 5 || len(l.Lines) != 1 || len(l.Lines[0].Points) != 3 {
		t.Fatalf("layout %+v", l)
	}
	plot := l.Base - l.Top
	for i, v := range []float64{1, 4, 2} {
		p := l.Lines[0].Points[i]
		if !near(l.Base-p.Y, v/5*plot) {
			t.Errorf("point %d: y %v, want %v above the base", i, p.Y, v/5*plot)
		}
	}
	if !(l.Lines[0].Points[0].X < l.Lines[0].Points[1].X && l.Lines[0].Points[1].X < l.Lines[0].Points[2].X) {
		t.Error("points not left to right")
	}
}

func TestSVGIsEscapedAndAccessible(t *testing.T) {
	evil := `<script>alert(1)</script>"`
	s := string(Chart{ID: "c1", Title: evil, Desc: "d " + evil, Labels: []string{evil},
		Series: []Series{{Name: evil, Values: []float64{3}}}}.BarSVG())
	if strings.Contains(s, "<script>") {
		t.Fatalf("unescaped text in %s", s)
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="c1-title c1-desc"`, `<desc id="c1-desc">d &lt;script&gt;`,
		`data-value="3"`, `<rect class="bar s0"`} {
		if !strings.Contains(s, want) {
			t.Errorf("svg lacks %s:\n%s", want, s)
		}
	}
	if n := strings.Count(s, `class="bar `); n != 1 {
		t.Errorf("%d bars", n)
	}
	if l := string(Chart{ID: "c2", Labels: []string{"a", "b"}, Series: []Series{{Name: "x", Values: []float64{1, 2}}}}.LineSVG()); strings.Count(l, "<circle") != 2 || !strings.Contains(l, "<polyline") {
		t.Errorf("line svg: %s", l)
	}
}
