package portal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/commonroot/commonroot/internal/testtool"
)

// artifacts is where the browser tests save screenshots (gitignored).
const artifacts = "testdata/artifacts"

// browser starts a headless chromium for t and collects its console's
// messages; the returned func gives those of type error or exception.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	bin := testtool.Path(t, "chromium")
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("starting chromium: %v", err)
	}
	var mu sync.Mutex
	var errs []string
	cctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	msgs := chromedp.Console(cctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(artifacts, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitJS evaluates a boolean expression until it is true: across page
// reloads (an evaluation during one fails and is retried).
func waitJS(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %s still false after %s (last error: %v)", what, expr, timeout, last)
}

// TestBrowser drives chromium through the portal of a running dev
// federation: the overview, a TLD search, its page and history, a
// proposal whose votes appear as they are cast, the in-browser
// verification of a log entry (and its failure on a tampered proof), a
// 375-px-wide viewport, and no console errors anywhere.
func TestBrowser(t *testing.T) {
	d := fed(t)
	ctx, consoleErrors := browser(t)

	// The overview.
	do(t, ctx, "open the overview", chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.Contains(title, "Overview") {
		t.Fatalf("overview title %q (%v)", title, err)
	}
	if h1 := text(t, ctx, "h1"); h1 != "Overview of the federation" {
		t.Errorf("overview h1 %q", h1)
	}
	screenshot(t, ctx, "overview")

	// Search a TLD and open its page and history.
	do(t, ctx, "search a TLD",
		chromedp.Navigate(d.base+"/ui/tlds"),
		chromedp.SendKeys(chromedp.CSS("#q"), "de"),
		chromedp.Submit(chromedp.CSS("#q")),
		chromedp.WaitVisible(chromedp.CSS("#exact")))
	if got := text(t, ctx, "#tld-table tbody"); !strings.Contains(got, "de.") {
		t.Errorf("search results for de: %q", got)
	}
	screenshot(t, ctx, "search")
	do(t, ctx, "open de.", chromedp.Click(chromedp.CSS("#exact")), chromedp.WaitVisible(chromedp.CSS("#history-list")))
	if h1 := text(t, ctx, "h1"); h1 != "TLD de." {
		t.Errorf("TLD page h1 %q", h1)
	}
	if hist := text(t, ctx, "#history-list"); !strings.Contains(hist, "#0") || !strings.Contains(hist, "Genesis") {
		t.Errorf("de. history: %q", hist)
	}
	do(t, ctx, "open the history's genesis entry", chromedp.Click(chromedp.CSS(`#history-list a[href="/ui/log/0"]`)), chromedp.WaitVisible(chromedp.CSS("#verify")))
	if h1 := text(t, ctx, "h1"); h1 != "Log entry 0" {
		t.Errorf("after following the history link: h1 %q", h1)
	}

	// A proposal created now: its votes appear on the open page.
	id := d.propose(t, "browsertest.", "a TLD for the browser test")
	purl := fmt.Sprintf("%s/ui/proposals/%d", d.base, id)
	do(t, ctx, "open the proposal", chromedp.Navigate(purl), chromedp.WaitVisible(chromedp.CSS("#votes")))
	if v := text(t, ctx, "#votes tbody"); !strings.Contains(v, "No vote yet") {
		t.Errorf("a fresh proposal's votes: %q", v)
	}
	d.vote(t, "bravo", id, "yes", "bravo agrees: documentation needs it")
	waitJS(t, ctx, "bravo's vote appears", `document.querySelector("#votes tbody").innerText.includes("bravo agrees")`, 30*time.Second)
	screenshot(t, ctx, "proposal-open")
	d.vote(t, "charlie", id, "no", "charlie objects")
	d.vote(t, "delta", id, "yes", "delta agrees")
	d.vote(t, "alpha", id, "yes", "alpha, the proposer, agrees")
	waitJS(t, ctx, "the proposal passes", `document.querySelector("#status").innerText.includes("passed") && document.querySelector("#votes tbody").innerText.includes("charlie objects")`, 30*time.Second)
	screenshot(t, ctx, "proposal-passed")

	// A log entry verified in the browser.
	var proposeIndex int64 = -1
	do(t, ctx, "read the proposing entry", chromedp.Navigate(purl))
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("dl.facts a[href^='/ui/log/']").getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscanf(href, "/ui/log/%d", &proposeIndex)
	if proposeIndex < 1 {
		t.Fatalf("proposing entry link %q", href)
	}
	entryURL := fmt.Sprintf("%s/ui/log/%d", d.base, proposeIndex)
	do(t, ctx, "open the entry", chromedp.Navigate(entryURL), chromedp.WaitVisible(chromedp.CSS("#verify")))
	waitCheckpoint(t, d, proposeIndex)
	do(t, ctx, "verify", chromedp.Click(chromedp.CSS("#verify")))
	waitJS(t, ctx, "the entry verifies", `document.querySelector("#verify-result").innerText.startsWith("verified")`, 20*time.Second)
	if got := text(t, ctx, "#verify-result"); !strings.Contains(got, fmt.Sprintf("entry %d", proposeIndex)) {
		t.Errorf("verification result %q", got)
	}
	screenshot(t, ctx, "entry-verified")

	// The same check through a proxy that alters the inclusion proof fails.
	tamper := tamperingProxy(t, d.base)
	do(t, ctx, "open the entry through the proxy", chromedp.Navigate(fmt.Sprintf("%s/ui/log/%d", tamper, proposeIndex)), chromedp.WaitVisible(chromedp.CSS("#verify")),
		chromedp.Click(chromedp.CSS("#verify")))
	waitJS(t, ctx, "the tampered proof fails", `document.querySelector("#verify-result").innerText.startsWith("failed")`, 20*time.Second)
	screenshot(t, ctx, "entry-tampered")

	// Other pages, in the browser too.
	for _, p := range []string{"/ui/restrictions", "/ui/zone", "/ui/members", "/ui/log"} {
		do(t, ctx, "open "+p, chromedp.Navigate(d.base+p), chromedp.WaitVisible(chromedp.CSS("h1")))
	}
	screenshot(t, ctx, "members-wide")

	// 375 px wide: no page scrolls sideways.
	do(t, ctx, "narrow viewport", chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile))
	for _, p := range []string{"/ui/", "/ui/tlds", "/ui/tlds/de.", fmt.Sprintf("/ui/proposals/%d", id), "/ui/proposals", "/ui/restrictions",
		"/ui/log", fmt.Sprintf("/ui/log/%d", proposeIndex), "/ui/zone", "/ui/members", "/ui/members/alpha"} {
		do(t, ctx, "open "+p+" at 375 px", chromedp.Navigate(d.base+p), chromedp.WaitVisible(chromedp.CSS("h1")))
		w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		if err != nil {
			t.Fatal(err)
		}
		if w[0] > w[1] {
			t.Errorf("%s at 375 px: scroll width %d > viewport %d", p, w[0], w[1])
			screenshot(t, ctx, "narrow-fail-"+strings.NewReplacer("/", "_", ".", "_").Replace(p))
		}
	}
	do(t, ctx, "open the entry at 375 px", chromedp.Navigate(entryURL), chromedp.WaitVisible(chromedp.CSS("h1")))
	screenshot(t, ctx, "entry-375")
	do(t, ctx, "open the overview at 375 px", chromedp.Navigate(d.base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	screenshot(t, ctx, "overview-375")

	time.Sleep(200 * time.Millisecond) // let the last console events arrive
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// waitCheckpoint waits until the node serves a signed checkpoint that
// holds entry i.
func waitCheckpoint(t *testing.T, d *devFed, i int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("a signed checkpoint holding entry %d", i), 30*time.Second, func() error {
		code, _, b := get(t, d.base+"/checkpoint")
		if code != 200 {
			return fmt.Errorf("/checkpoint: %d", code)
		}
		var size int64
		lines := strings.Split(string(b), "\n")
		if len(lines) < 2 {
			return fmt.Errorf("checkpoint %q", b)
		}
		fmt.Sscan(lines[1], &size)
		if size <= i {
			return fmt.Errorf("checkpoint size %d", size)
		}
		return nil
	})
}

// tamperingProxy forwards to base, replacing the first hash of every
// inclusion proof with another valid-looking hash.
func tamperingProxy(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/proof/inclusion" || resp.StatusCode != 200 {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(b, '\n'); i > 0 {
			fake := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 32))
			b = append([]byte(fake), b[i:]...)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}
