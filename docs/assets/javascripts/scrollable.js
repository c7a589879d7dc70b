// Keyboard access to what scrolls sideways (WCAG 2.1.1; axe-core's scrollable-region-focusable):
// a code block or a wide table that scrolls gets tabindex="0", so a keyboard user can focus it
// and scroll it with the arrow keys; one that fits gets none and adds no tab stop. Re-checked
// whenever its size changes (a tab shown, a narrower window).
// Every size is read before any attribute is written: reading a size after a write makes the
// browser lay out the whole page again, once per block on a page of hundreds of them.
(function () {
  const SELECTOR = ".md-typeset pre > code, .md-typeset__scrollwrap";
  function update(elements) {
    const scrolls = elements.map(el => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1);
    elements.forEach((el, i) => {
      if (scrolls[i] && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.dataset.scrollFocus = "";
      } else if (!scrolls[i] && "scrollFocus" in el.dataset) {
        el.removeAttribute("tabindex");
        delete el.dataset.scrollFocus;
      }
    });
  }
  const observer = new ResizeObserver(entries => update(entries.map(entry => entry.target)));
  document$.subscribe(() => {
    const elements = Array.from(document.querySelectorAll(SELECTOR));
    update(elements);
    elements.forEach(el => observer.observe(el));
  });
})();
