package uitest

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gesgo/ges/internal/testenv"
)

// The API documentation page renders both documents in a real browser
// with the node's own assets under its Content-Security-Policy.
func TestAPIDocsRenders(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	b := newBrowser(t, s.Nodes[0].InternalURL)
	for _, c := range []struct{ query, path string }{
		{"", "/callbacks/create"},
		{"?doc=internal", "/genesys/1/service/callback/{service}"},
	} {
		b.open("/ges/api-docs/" + c.query)
		b.do(chromedp.WaitVisible(chromedp.CSS(".opblock-summary-path")))
		deadline := time.Now().Add(10 * time.Second)
		var paths []string
		for {
			b.eval(`[...document.querySelectorAll(".opblock-summary-path")].map(e => e.innerText.replace(/\u200b/g, "").trim())`, &paths)
			if strings.Contains(strings.Join(paths, " "), c.path) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(strings.Join(paths, " "), c.path) || len(paths) < 10 {
			t.Errorf("page %q shows %d operations without %s: %v", c.query, len(paths), c.path, paths)
		}
		if b.count(".errors-wrapper") > 0 {
			t.Errorf("page %q reports errors: %s", c.query, b.text(".errors-wrapper"))
		}
		name := "external"
		if c.query != "" {
			name = "internal"
		}
		b.screenshot(name)
	}
}
