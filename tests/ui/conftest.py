"""Each page test's app opens its own database connection, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def fresh_connection_cache() -> Iterator[None]:
    """Each test's app opens its own connection; the cache closes it afterwards."""
    st.cache_resource.clear()
    st.cache_data.clear()  # pages cache chart data a minute; each test sees its own rows
    yield
    st.cache_resource.clear()
