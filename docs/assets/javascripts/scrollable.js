// Keyboard access to what scrolls sideways (WCAG 2.1.1; axe-core's scrollable-region-focusable):
// a code block or a wide table that scrolls gets tabindex="0", so a keyboard user can focus it
// and scroll it with the arrow keys; one that fits gets none and adds no tab stop. Re-checked
// whenever its size changes (a tab shown, a narrower window).
(function () {
  const SELECTOR = ".md-typeset pre > code, .md-typeset__scrollwrap";
  function mark(el) {
    const scrolls = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
    if (scrolls && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
      el.dataset.scrollFocus = "";
    } else if (!scrolls && "scrollFocus" in el.dataset) {
      el.removeAttribute("tabindex");
      delete el.dataset.scrollFocus;
    }
  }
  const observer = new ResizeObserver(entries => entries.forEach(entry => mark(entry.target)));
  document$.subscribe(() => document.querySelectorAll(SELECTOR).forEach(el => {
    mark(el);
    observer.observe(el);
  }));
})();
