"""Vigil: quality monitoring for production LLM applications.

Importing the package turns phoning home off for every library Vigil drives (Prefect,
Streamlit, TruLens, Hugging Face, LiteLLM), before any of them is imported. Each variable
is only set when the user has not set it already.
"""

from vigil._telemetry import disable_telemetry

disable_telemetry()

__all__ = ["__version__"]
__version__ = "0.1.0"
