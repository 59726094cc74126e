"""DOM checks for a projector: run in the page, return what a back-row reader would trip over.

- ``truncated``: a button, link, tab, badge or widget label whose text is cut (scrollWidth beyond clientWidth in
  a box that hides overflow, or an ellipsis);
- ``broken``: a word broken inside itself across two lines (``in_fe / ature s``, ``BER / T``) in labels,
  buttons, headings, paragraphs, captions and table cells (code and pre blocks may wrap anywhere);
- ``small_text``: figure text (plotly SVG) rendered below 12 CSS px;
- ``overlap``: two texts of one figure whose boxes overlap (cell labels, tick labels, annotations).

Each entry says what and where, so a failing assert reads as a to-do list.
"""

from __future__ import annotations

import json

CHECK_JS = r"""
(extraRoots) => {
  const out = {truncated: [], broken: [], small_text: [], overlap: []};
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 2 || r.height <= 2) return false;  // empty, or a screen-reader-only text
    const hidden = "[data-testid='stSidebar'][aria-expanded='false'], [data-testid='stSidebar'][data-collapsed='true']";
    if (r.right <= 0 || el.closest(hidden)) return false;  // off screen, or in the collapsed sidebar
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none';
  };
  const label = (el) => (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60);
  // 1. truncated labels
  const boxes = document.querySelectorAll(
    "button, a, [data-testid='stWidgetLabel'], [data-testid='stTab'], [data-baseweb='tag'], " +
    "[data-testid='stMarkdownContainer'] span[class*='badge'], [data-testid='stCheckbox'] label, " +
    "[data-testid='stSidebarNav'] a, [data-testid='stPageLink'] a");
  for (const box of boxes) {
    if (!visible(box) || box.closest('.js-plotly-plot')) continue;
    const text = label(box);
    if (!text) continue;
    for (const el of [box, ...box.querySelectorAll('*')]) {
      if (!visible(el) || !(el.innerText || '').trim()) continue;
      const cs = getComputedStyle(el);
      const hides = cs.overflowX === 'hidden' || cs.overflowX === 'clip' || cs.textOverflow === 'ellipsis';
      if (hides && el.scrollWidth > el.clientWidth + 1) {
        out.truncated.push(`${text} (${el.tagName.toLowerCase()} ${el.scrollWidth}>${el.clientWidth})`);
        break;
      }
    }
  }
  // 2. words broken inside themselves
  const textRoots = document.querySelectorAll(
    "[data-testid='stWidgetLabel'], button, a, h1, h2, h3, h4, h5, h6, " +
    "[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li, " +
    "[data-testid='stCaptionContainer'], [data-testid='stTable'] td, [data-testid='stTable'] th" +
    (extraRoots ? ", " + extraRoots : ""));
  const seen = new Set();
  for (const root of textRoots) {
    if (!visible(root) || root.closest('.js-plotly-plot')) continue;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (seen.has(node)) continue;
      seen.add(node);
      if (node.parentElement.closest('code, pre, kbd, samp')) continue;
      const text = node.textContent;
      const re = /[^\s\-\u2010-\u2014\/]{2,}/g;  // a break after a hyphen, dash or slash is a fair break
      let m;
      while ((m = re.exec(text))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) out.broken.push(`"${m[0].slice(0, 40)}" in "${label(root)}"`);
      }
    }
  }
  // 3 and 4. figure text: size and overlaps (per figure)
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!visible(plot)) continue;
    const zoom = parseFloat(getComputedStyle(plot.closest("[data-testid='stPlotlyChart']") || plot).zoom || '1') || 1;
    const texts = Array.from(plot.querySelectorAll('svg text')).filter(t => visible(t) && t.textContent.trim());
    for (const t of texts) {
      const px = parseFloat(getComputedStyle(t).fontSize) * zoom;
      if (px < 11.5) out.small_text.push(`"${t.textContent.trim().slice(0, 30)}" at ${px.toFixed(1)}px`);
    }
    const rects = texts.map(t => [t, t.getBoundingClientRect()]);
    let n = 0;
    for (let i = 0; i < rects.length && n < 5; i++) {
      for (let j = i + 1; j < rects.length && n < 5; j++) {
        const a = rects[i][1], b = rects[j][1];
        const ix = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const iy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (ix > 2 && iy > 2) {
          if (rects[i][0].contains(rects[j][0]) || rects[j][0].contains(rects[i][0])) continue;
          const a1 = rects[i][0].textContent.trim().slice(0, 20), b1 = rects[j][0].textContent.trim().slice(0, 20);
          out.overlap.push(`"${a1}" × "${b1}"`);
          n++;
        }
      }
    }
  }
  return out;
}
"""


def legibility_problems(page, extra_roots: str = "") -> dict[str, list[str]]:
    """Run CHECK_JS in ``page``; the four lists (empty when the page reads well).

    ``extra_roots``: a CSS selector of more text to check for words broken inside (e.g. our own HTML tables,
    ``.pl-table td``); a ``<wbr>`` splits a text node, so a break there is never counted as inside a word."""
    return page.evaluate(CHECK_JS, extra_roots)


def summary(problems: dict[str, list[str]]) -> str:
    return json.dumps({k: v[:12] for k, v in problems.items() if v}, indent=1, ensure_ascii=False)
