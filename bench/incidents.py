"""The incident kinds a detection benchmark world can carry, and what counts as finding
each: a regression of one of its (metric, evaluator) pairs, the first its primary metric,
whose named segment is checked first."""

KINDS = (
    "hallucinating_prompt",
    "degraded_index",
    "verbose_outputs",
    "longer_context",
    "slow_model",
    "route_quality",
)
QUALITY_KINDS = frozenset({"hallucinating_prompt", "degraded_index", "route_quality"})
# What counts as finding each incident: (metric, evaluator) of a regression; the first is
# its primary metric, whose named segment is checked first.
EXPECTED: dict[str, tuple[tuple[str, str], ...]] = {
    "hallucinating_prompt": (("score", "groundedness"), ("below_threshold_rate", "groundedness")),
    "degraded_index": (
        ("score", "context_relevance"),
        ("below_threshold_rate", "context_relevance"),
    ),
    "verbose_outputs": (("output_tokens", ""), ("cost_per_request", "")),
    "longer_context": (("input_tokens", ""), ("cost_per_request", "")),
    "slow_model": (("latency_p95", ""),),
    "route_quality": (("score", "groundedness"), ("below_threshold_rate", "groundedness")),
}
