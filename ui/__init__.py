"""Vigil's Streamlit app: a router (``app.py``) over one page per screen in ``app_pages/``."""
