package portal

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// palette reads the colour variables of style.css's :root block.
func palette(t *testing.T) (map[string][3]float64, string) {
	t.Helper()
	css, err := staticFS.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	start := strings.Index(s, ":root {")
	end := strings.Index(s[start:], "}")
	root, rest := s[start:start+end], s[start+end:]
	vars := map[string][3]float64{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*#([0-9a-f]{6});`).FindAllStringSubmatch(root, -1) {
		var c [3]float64
		for i := range 3 {
			v, _ := strconv.ParseUint(m[2][2*i:2*i+2], 16, 8)
			c[i] = float64(v) / 255
		}
		vars[m[1]] = c
	}
	return vars, rest
}

// luminance is WCAG 2's relative luminance of an sRGB colour.
func luminance(c [3]float64) float64 {
	var l [3]float64
	for i, v := range c {
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(a, b [3]float64) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestContrast checks every text/background pair the stylesheet uses
// against WCAG 2.1 AA: 4.5:1 for text, 3:1 for the focus ring and borders
// of controls. It also checks that no rule uses a colour that is not one
// of the palette's variables, so the pairs below cover the stylesheet.
func TestContrast(t *testing.T) {
	vars, rest := palette(t)
	if lit := regexp.MustCompile(`#[0-9a-fA-F]{3,8}\b|rgb\(|hsl\(`).FindString(rest); lit != "" {
		t.Errorf("a colour outside the palette's variables: %q", lit)
	}
	tests := []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "bg", 4.5}, {"muted", "bg", 4.5}, {"link", "bg", 4.5},
		{"fg", "surface", 4.5}, {"muted", "surface", 4.5}, {"link", "surface", 4.5},
		{"header-fg", "header-bg", 4.5},
		{"tag-fg", "tag-bg", 4.5},
		{"ok", "bg", 4.5}, {"bad", "bg", 4.5}, {"ok", "surface", 4.5}, {"bad", "surface", 4.5},
		{"fg", "ins-bg", 4.5}, {"fg", "del-bg", 4.5},
		{"focus", "bg", 3}, {"border", "bg", 3}, {"focus", "header-bg", 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-on-%s", tt.fg, tt.bg), func(t *testing.T) {
			fg, ok1 := vars[tt.fg]
			bg, ok2 := vars[tt.bg]
			if !ok1 || !ok2 {
				t.Fatalf("--%s or --%s is not in the palette", tt.fg, tt.bg)
			}
			if got := contrast(fg, bg); got < tt.min {
				t.Errorf("contrast of --%s on --%s = %.2f, want at least %.1f", tt.fg, tt.bg, got, tt.min)
			}
		})
	}
	// The formula itself: black on white is 21:1, and a colour on itself 1:1.
	if got := contrast([3]float64{0, 0, 0}, [3]float64{1, 1, 1}); math.Abs(got-21) > 1e-9 {
		t.Errorf("contrast(black, white) = %v, want 21", got)
	}
	if got := contrast(vars["link"], vars["link"]); got != 1 {
		t.Errorf("contrast(link, link) = %v, want 1", got)
	}
}
