"""Streamlit entry point: run with ``streamlit run ui/app.py``.

It only routes; each screen is a page in ``app_pages/`` that reads the database through
``ui.data``.
"""

import vigil  # noqa: F401, I001  (first: switches library telemetry off before Streamlit loads)
import streamlit as st

from ui import signin

st.set_page_config(page_title="Vigil", page_icon=":material/monitoring:", layout="wide")
# The pages are routed before the sign-in gate, so that a link to one (an alert's
# /regressions?regression=ID, a gate comment's /gate?run=ID) opens it once signed in; the
# menu stays hidden until then.
pages = st.navigation(
    [
        st.Page(
            "app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True
        ),
        st.Page("app_pages/regressions.py", title="Regressions", icon=":material/trending_down:"),
        st.Page("app_pages/traces.py", title="Traces", icon=":material/search:"),
        st.Page("app_pages/review.py", title="Review queue", icon=":material/rate_review:"),
        st.Page("app_pages/evaluators.py", title="Evaluators", icon=":material/balance:"),
        st.Page("app_pages/runs.py", title="Evaluation runs", icon=":material/history:"),
        st.Page("app_pages/gate.py", title="Gate runs", icon=":material/rule:"),
    ],
    position="sidebar" if signin.signed_in() else "hidden",
)
signin.gate()  # nobody signed in sees only the sign-in form (docs/access.md)
pages.run()
