"""Environment defaults that keep every library offline and quiet."""

import os

# Each of these is a documented switch of the library named in the comment.
TELEMETRY_OFF: dict[str, str] = {
    "DO_NOT_TRACK": "1",  # the common convention, honoured by several libraries
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # Prefect server analytics
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",  # Streamlit usage stats
    "HF_HUB_OFFLINE": "1",  # never reach the Hugging Face hub: models come from packages
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # LiteLLM: no download of its price map
    "RAGAS_DO_NOT_TRACK": "true",  # RAGAS usage analytics (the `ragas` extra)
    "DEEPEVAL_TELEMETRY_OPT_OUT": "1",  # DeepEval, if a user's own evaluator imports it
    "DEEPEVAL_DISABLE_DOTENV": "1",  # ...and its loading of .env files into the environment
}


def disable_telemetry() -> None:
    """Set the telemetry switches in this process's environment, keeping user overrides."""
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
