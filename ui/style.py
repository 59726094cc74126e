"""Projector-ready styling for every page, and presenter mode. One place for the app's CSS.

Normal mode: legible at 1024×768 with the sidebar open — less side padding on small screens, no word broken
in the middle (labels, buttons, headings wrap between words), no button label cut to "…" (buttons grow or
wrap to a new row instead), widgets laid out in wrapping rows.

Presenter mode (``?present=1`` or the sidebar toggle): larger type for the back row, figures drawn larger,
the sidebar and the controls the class does not need (marked with a ``ctl-`` key, or Streamlit's toolbar,
chart mode bars, downloads) hidden.
"""

from __future__ import annotations

import streamlit as st

# Streamlit's own theme sets `word-break: break-word` on text, which breaks a label such as "in_features"
# inside the word when its column is narrow; we keep words whole and let layouts wrap instead.
BASE_CSS = """
[data-testid="stWidgetLabel"] p, [data-testid="stWidgetLabel"] label,
.stButton button p, .stLinkButton a p, [data-testid="stPopover"] button p,
.stDownloadButton button p, .stFormSubmitButton button p, [data-testid="stPageLink"] p,
[data-testid="stCheckbox"] p, [data-testid="stToggle"] p,
[data-testid="stHeading"] h1, [data-testid="stHeading"] h2, [data-testid="stHeading"] h3,
[data-testid="stMarkdownContainer"] h3, [data-testid="stMarkdownContainer"] h4,
[data-testid="stMarkdownContainer"] h5, [data-testid="stTab"] p {
  word-break: normal !important;
  overflow-wrap: normal !important;
  hyphens: manual;
}
/* a button shows its whole label: grow (or wrap between words) rather than cut it to "…" */
.stButton button, .stDownloadButton button, .stLinkButton a, .stFormSubmitButton button {
  max-width: 100%;
}
.stButton button p, .stButton button [data-testid="stMarkdownContainer"],
.stDownloadButton button p, .stDownloadButton button [data-testid="stMarkdownContainer"],
.stLinkButton a p, .stLinkButton a [data-testid="stMarkdownContainer"],
.stFormSubmitButton button p, .stFormSubmitButton button [data-testid="stMarkdownContainer"],
[data-testid="stPopover"] button p, [data-testid="stPopover"] button [data-testid="stMarkdownContainer"] {
  white-space: normal !important;
  text-overflow: clip !important;
  overflow: visible !important;
}
[data-testid="stCheckbox"] p, [data-testid="stToggle"] p { white-space: normal !important; }
/* the sidebar's checkpoint button: its label breaks after "Checkpoint:" or a "/" (ui/common.checkpoint_label);
   a piece of a name wider than the button breaks anywhere rather than running off its edges */
[data-testid="stSidebar"] [data-testid="stPopover"] button p { overflow-wrap: anywhere !important; }
/* a list of links in the sidebar (the lessons) reads left-aligned, also when a title wraps */
[data-testid="stSidebar"] .stButton button { justify-content: flex-start; text-align: left; }
[data-testid="stSidebar"] .stButton button p { text-align: left; }
/* the main area is a size container: a page's side-by-side columns marked .st-key-pl_layout stack when the
   main area is narrow (1024 px with the sidebar open), so the shape flow is not squeezed to 300 px */
[data-testid="stMainBlockContainer"] { container-type: inline-size; }
@container (max-width: 820px) {
  .st-key-pl_layout > [data-testid="stHorizontalBlock"],
  .st-key-pl_layout > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] {
    flex-wrap: wrap !important;
  }
  .st-key-pl_layout > [data-testid="stHorizontalBlock"] > [data-testid="stColumn"],
  .st-key-pl_layout > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
    width: 100% !important; flex: 1 1 100% !important; min-width: 100% !important;
  }
}
/* less side padding where every pixel counts (1024 px with the sidebar open leaves ~720 px) */
@media (max-width: 1366px) {
  [data-testid="stMainBlockContainer"] {
    padding-left: 1.75rem !important;
    padding-right: 1.75rem !important;
    padding-top: 3.25rem !important;
  }
}
"""

# Presenter mode: the back row reads 20 px type; our HTML blocks (token chips) are drawn at 1.3× (CSS zoom);
# figures get the whole width (no sidebar, the Explorer's shape flow below its editor); the page navigation
# moves to the top bar; what the class does not need is hidden.
PRESENT_CSS = """
html { font-size: 20px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stDecoration"], [data-testid="stStatusWidget"], [data-testid="stToolbarActions"],
[data-testid="stMainMenu"], [data-testid="stAppDeployButton"],
.modebar-container, [data-testid="stElementToolbar"],
[class*="st-key-ctl-"], .st-key-pl_export, .stDownloadButton {
  display: none !important;
}
[data-testid="stMainBlockContainer"] {
  max-width: 100% !important;
  padding-left: 2rem !important;
  padding-right: 2rem !important;
  padding-top: 4.5rem !important;
}
[data-testid="stHtml"] { zoom: 1.3; }
/* figures: the full width instead of a column (charts are not zoomed: a zoomed plotly chart overflows its box) */
.st-key-pl_layout > [data-testid="stHorizontalBlock"],
.st-key-pl_layout > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] { flex-wrap: wrap !important; }
.st-key-pl_layout > [data-testid="stHorizontalBlock"] > [data-testid="stColumn"],
.st-key-pl_layout > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
  width: 100% !important; flex: 1 1 100% !important; min-width: 100% !important;
}
[class*="st-key-pl_params"] [data-testid="stNumberInput"] input { font-size: 0.75rem !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { font-size: 0.9rem !important; }
"""


def apply(presenting: bool) -> None:
    """Inject the app's CSS (and presenter mode's when on) for this run."""
    css = BASE_CSS + (PRESENT_CSS if presenting else "")
    st.html(f"<style>{css}</style>")
