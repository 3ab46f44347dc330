// What the reader sees (issue #11). Registered in _config.yml (html_js_files).
//
// A box that scrolls sideways must be reachable with the keyboard (WCAG 2.1.1; axe-core's
// scrollable-region-focusable). The theme gives code blocks and outputs a tab stop when the
// page loads or the window is resized, but not when they appear later (the code of a folded
// solution, once opened), and never to a display equation, which scrolls when it is wider
// than a phone. A ResizeObserver sees every such box appear or change size, equations
// included once MathJax has typeset them.
(() => {
  const BOXES = "pre, .cell_output > .output, .pst-scrollable-table-container, div.math";
  const update = (box) => {
    const el = box.matches("div.math") ? box.querySelector("mjx-container") : box;
    if (!el) return;
    const scrolls = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
    if (el.matches("mjx-container")) {
      if (scrolls) el.tabIndex = 0;
      else el.removeAttribute("tabindex");
    } else {
      el.tabIndex = scrolls ? 0 : -1;
    }
  };
  const start = () => {
    if (!("ResizeObserver" in window)) return;
    const observer = new ResizeObserver((entries) => entries.forEach((e) => update(e.target)));
    document.querySelectorAll(BOXES).forEach((box) => observer.observe(box));
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
