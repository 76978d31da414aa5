"""Prompt-injection patterns, grouped by tactic (the scanner is :mod:`evaluators.injection_scan`).

Each pattern names an attack tactic and a confidence. ``high`` patterns are phrasings that
ordinary text almost never uses ("ignore all previous instructions", ``<|im_start|>``);
``medium`` ones are suspicious but have benign uses (a ``<system>`` tag in prompt-engineering
docs). Patterns need a qualifier next to the trigger word, so that "follow the setup
instructions" or "you can ignore this warning" does not fire. English only; all patterns are
case-insensitive. Some tactics only make sense in retrieved documents (text addressed to "the
AI" is normal in a user's question), so those patterns are ``documents_only``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Tactic = Literal[
    "override",  # ignore / override previous instructions
    "role",  # role reassignment, jailbreak personas
    "prompt_exfiltration",  # reveal the system prompt
    "fake_delimiter",  # chat-template tokens, fake system/tool tags and headings
    "hidden",  # zero-width, Unicode tag or base64-encoded instructions
    "addressed_to_model",  # a document speaking to the AI that reads it
    "data_exfiltration",  # markdown images/links that carry data out in the URL
]
Confidence = Literal["high", "medium"]


@dataclass(frozen=True)
class InjectionPattern:
    name: str
    tactic: Tactic
    confidence: Confidence
    regex: re.Pattern[str]
    documents_only: bool = False


@dataclass(frozen=True)
class Hit:
    """One match: where it is in the scanned text and a short excerpt of it."""

    tactic: Tactic
    pattern: str
    confidence: Confidence
    start: int
    end: int
    excerpt: str


def _p(
    name: str, tactic: Tactic, confidence: Confidence, pattern: str, documents_only: bool = False
) -> InjectionPattern:
    regex = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    return InjectionPattern(name, tactic, confidence, regex, documents_only)


_OVERRIDE_VERB = (
    r"(?:ignore|disregard|forget|bypass|circumvent|disobey|set\s+aside"
    r"|(?:do\s+not|don'?t|stop|no\s+longer)\s+(?:follow(?:ing)?|obey(?:ing)?))"
)
_PRIOR = (
    r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|former|existing"
    r"|system|developer|safety|your)"
)
_RULES = (
    r"(?:instructions?|prompts?|directions|directives?|rules|guidelines|guardrails|constraints"
    r"|programming|polic(?:y|ies)|restrictions|commands)"
)
_REVEAL = (
    r"(?:reveal|show|print|display|output|repeat|leak|disclose|dump|expose|recite|echo"
    r"|spell\s+out|write\s+out|tell|give|share|copy|translate)"
)
_AI = (
    r"(?:ai|a\.i\.|llms?|(?:large\s+)?language\s+models?|chatbots?|chatgpt|gpt(?:-?\d\w*)?"
    r"|claude|gemini|copilot|virtual\s+assistants?"
    r"|ai[\s-](?:assistants?|agents?|models?|systems?|bots?|tools?))"
)
_MD_URL = r"(?:!?\[[^\]\n]{0,200}\]\(\s*<?|<img\b[^>]{0,200}?\bsrc\s*=\s*[\"']?)https?://"

PATTERNS: tuple[InjectionPattern, ...] = (
    # -- override: ignore or replace the instructions the model was given -----------------
    _p(
        "ignore_previous_instructions",
        "override",
        "high",
        rf"\b{_OVERRIDE_VERB}\s+(?:(?:all|any|each|every|of|the|these|those|its)\s+){{0,3}}"
        rf"{_PRIOR}\s+(?:\w+\s+)?{_RULES}\b(?!\s+(?:if|when|unless)\b)"
        rf"|\b{_OVERRIDE_VERB}\s+all\s+(?:of\s+)?(?:the\s+|your\s+)?(?:instructions|prompts"
        r"|guidelines|guardrails|programming)\b",
    ),
    _p(
        "ignore_everything_above",
        "override",
        "high",
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:(?:that\s+)?(?:was\s+|you\s+"
        r"(?:were|have\s+been)\s+)?(?:said|written|stated|told|mentioned)\s+)?"
        r"(?:above|before|previously|earlier|so\s+far|until\s+now|up\s+to\s+now)\b",
    ),
    _p(
        "your_new_task",
        "override",
        "high",
        r"\byour\s+(?:(?:new|updated)\s+(?:instructions?|task|goal|objective|mission|purpose"
        r"|directive)|(?:real|actual|true)\s+(?:instructions|task))\s+(?:is|are|will\s+be)\b",
    ),
    _p(
        "new_instructions_label",
        "override",
        "medium",
        r"\b(?:new|updated|revised)\s+(?:system\s+)?instructions\s*:",
    ),
    # -- role: reassign who the model is --------------------------------------------------
    _p(
        "you_are_now",
        "role",
        "high",
        r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:(?:a|an|called|named|known\s+as|acting\s+as)"
        r"\s+(?:[\w-]+\s+){0,2}?(?:ai|assistant|chatbot|llm|gpt|persona|character)"
        r"|(?:in\s+)?(?:developer|god|dan|jailbreak|unrestricted|unfiltered|uncensored|sudo|evil"
        r"|opposite)\s+mode|dan|jailbroken|unrestricted|unfiltered|uncensored|evil"
        r"|free\s+(?:from|of)\s+(?:all\s+|any\s+|your\s+)?(?:rules|restrictions|guidelines"
        r"|filters)|(?:bound|restricted|limited)\s+by\s+(?:your\s+|any\s+|the\s+)?(?:rules"
        r"|guidelines|polic(?:y|ies)|restrictions|programming|filters|training))\b",
    ),
    _p(
        "pretend_unrestricted",
        "role",
        "high",
        r"\b(?:pretend|imagine|act\s+as\s+if|behave\s+as\s+if)\s+(?:that\s+)?you\s+(?:are|were"
        r"|have)\s+(?:no\s+(?:rules|restrictions|limits|filters|guidelines|content\s+polic"
        r"(?:y|ies))|an?\s+(?:unrestricted|unfiltered|uncensored|evil|jailbroken)\b|not\s+an?\s+"
        r"(?:ai|assistant|language\s+model))",
    ),
    _p(
        "act_as_jailbreak",
        "role",
        "high",
        r"\b(?:act|roleplay|role-play)\s+as\s+(?:an?\s+)?(?:dan|unrestricted|unfiltered"
        r"|uncensored|jailbroken|evil)\b|\bdo\s+anything\s+now\b"
        r"|\b(?:developer|jailbreak|dan)\s+mode\s+(?:enabled|activated|on)\b",
    ),
    _p(
        "from_now_on_you",
        "role",
        "medium",
        r"\bfrom\s+now\s+on(?:\s*,)?\s+(?:you|the\s+assistant|the\s+ai|the\s+model)\s+(?:will|must"
        r"|shall|should|are\s+going\s+to)\s+(?:only\s+|always\s+|never\s+)?(?:act|respond"
        r"|answer|reply|behave|pretend|ignore|roleplay|role-play|refer\s+to\s+yourself)\b",
    ),
    # -- prompt exfiltration: make the model reveal its instructions ----------------------
    _p(
        "reveal_your_prompt",
        "prompt_exfiltration",
        "high",
        rf"\b{_REVEAL}\s+(?:me\s+|us\s+)?(?:(?:all|of|the|this|entire|full|whole|exact|complete)"
        r"\s+){0,3}your\s+(?:(?:full|entire|whole|exact|complete|original|initial|hidden"
        r"|secret|internal)\s+){0,2}(?:system\s+(?:prompt|message|instructions)|prompt"
        r"|instructions|directives)\b(?![\s-]+(?:engineering|templates?|tips|examples?|for|on|about"
        r"|regarding|how)\b)",
    ),
    _p(
        "reveal_system_prompt",
        "prompt_exfiltration",
        "medium",
        rf"\b{_REVEAL}\s+(?:me\s+|us\s+)?(?:(?:all|of|the|this|entire|full|whole|exact|complete"
        r"|verbatim)\s+){0,3}(?:system\s+(?:prompt|message)|(?:initial|original|hidden|secret"
        r"|internal|developer)\s+(?:prompt|instructions))\b",
    ),
    _p(
        "what_is_your_prompt",
        "prompt_exfiltration",
        "high",
        r"\bwhat\s+(?:is|are|was|were)\s+your\s+(?:(?:exact|full|original|initial|hidden"
        r"|secret|system)\s+){0,2}(?:system\s+prompt|prompt|system\s+message)\b"
        r"|\bwhat\s+(?:is|are|was|were)\s+your\s+(?:original|initial|hidden|secret|system)"
        r"\s+instructions\b",
    ),
    _p(
        "repeat_text_above",
        "prompt_exfiltration",
        "medium",
        r"\b(?:repeat|print|output|reveal|echo|recite)\s+(?:(?:all|everything|the|of|your"
        r"|previous|exact|verbatim)\s+){0,3}(?:text|words|content|instructions|messages?"
        r"|everything|lines)\s+(?:(?:that\s+(?:is|are|was|were)\s+)?(?:written|shown|given)\s+)?"
        r"(?:above|before\s+(?:this|the\s+first))\b",
    ),
    _p(
        "starting_with_you_are",
        "prompt_exfiltration",
        "high",
        r"\b(?:repeat|print|output|recite|write)\b[^.\n]{0,60}\bstarting\s+with\s+[\"'“]?you\s+are\b",
    ),
    # -- fake delimiters: chat-template tokens, system/tool tags, role headings -----------
    _p("special_token", "fake_delimiter", "high", r"<\|[a-z_]{2,30}\|>"),
    _p(
        "llama_tags",
        "fake_delimiter",
        "high",
        r"\[/?INST\]|<<\s*/?SYS\s*>>|<(?:start|end)_of_turn>",
    ),
    _p(
        "role_heading",
        "fake_delimiter",
        "medium",
        r"^[ \t]{0,3}#{1,6}[ \t]*(?:(?:new|updated)[ \t]+)?(?:system|admin|developer|instruction"
        r"|assistant)(?:[ \t]+(?:prompt|message|instructions?|override|note))?[ \t]*:?[ \t]*$",
    ),
    _p(
        "role_label",
        "fake_delimiter",
        "medium",
        r"^[ \t]*[\[<(]?(?:system|assistant|developer|admin)[\])>]?[ \t]*:[ \t]*(?=(?:you\b"
        r"|ignore|disregard|forget|new\s+instructions|from\s+now|the\s+user|always\b|never\b"
        r"|do\s+not|don'?t|override))",
    ),
    _p(
        "role_tag",
        "fake_delimiter",
        "medium",
        r"</?(?:system|system[_-]?prompt|system[_-]?message|sys|admin|developer|tool[_-]?call"
        r"|tool[_-]?result|function[_-]?call|function[_-]?results?|instructions?)\s*>",
    ),
    _p(
        "context_breakout",
        "fake_delimiter",
        "medium",
        r"</(?:contexts?|documents?|user[_-]?(?:input|query|message)|search[_-]?results?"
        r"|retrieved[_-]?\w*|untrusted[_-]?\w*)\s*>"
        r"|(?:(?<!-)-{3,}|(?<!=)={3,}|(?<!\*)\*{3,}|(?<!#)#{3,}|\[)\s*(?:end|begin|start)\s+(?:of\s+)?(?:the\s+)?"
        r"(?:system\s+prompt|system\s+message|user\s+input|context|documents?|instructions"
        r"|prompt)\b",
    ),
    # -- addressed to the model: a document that talks to the AI reading it ---------------
    _p(
        "note_to_ai",
        "addressed_to_model",
        "high",
        rf"\b(?:note|message|instructions?|attention|reminder|important)\s*(?:(?:for|to)\s+"
        rf"(?:the\s+|any\s+|all\s+)?)?{_AI}(?:\s*[:,!—]|\s*-\s|\s+(?:reading|processing"
        r"|summari[sz]ing|parsing|that|who)\b)",
        documents_only=True,
    ),
    _p(
        "vocative_ai",
        "addressed_to_model",
        "high",
        rf"(?:^|(?<=[.!?]))[ \t]*(?:(?:dear|hey|hi|hello|attention|ok|okay)\s+)?{_AI}\s*[:,]\s*"
        r"(?:please\s+)?(?:you\s+(?:must|should|will|are)|ignore|disregard|forget|do\s+not"
        r"|don'?t|always|never|instead|respond|reply|answer|say|tell|include|recommend|output"
        r"|print|append|insert|add|mention|state|write|send|visit|navigate|open|call|execute"
        r"|run|summari[sz]e|translate|describe)\b",
        documents_only=True,
    ),
    _p(
        "if_you_are_an_ai",
        "addressed_to_model",
        "high",
        rf"\bif\s+you\s+are\s+(?:an?\s+)?{_AI}(?:\s+(?:assistant|agent|model|system))?"
        r"(?:\s*[,;:—]|\s+(?:reading|processing|summari[sz]ing|parsing|seeing|scanning|indexing"
        r"|crawling|that|who)\b)",
        documents_only=True,
    ),
    _p(
        "when_summarizing_this",
        "addressed_to_model",
        "high",
        r"\b(?:when|while|if|before|after)\s+(?:you\s+are\s+|you're\s+)?(?:summari[sz]ing"
        r"|answering|responding|processing|reading|parsing|analy[sz]ing|asked\s+about)\s+(?:this"
        r"|the\s+following|these)\s+(?:document|page|text|content|email|message|article|file"
        r"|website|chunk|passage|context)s?\s*,\s*(?:(?:you\s+)?(?:must|should|will|need\s+to)"
        r"\s+)?(?:ignore|disregard|say|tell\s+the\s+user|recommend|respond|reply|answer|insert"
        r"|append|include\s+(?:the\s+following|this|a\s+link)|output|print|state"
        r"|do\s+not\s+(?:mention|reveal|tell|disclose))\b",
        documents_only=True,
    ),
    _p(
        "tell_the_user",
        "addressed_to_model",
        "medium",
        r"\b(?:tell|inform|convince|persuade)\s+the\s+user\s+(?:that|to)\b"
        r"|\bdo\s+not\s+(?:tell|inform|mention\s+(?:this\s+)?to|reveal\s+(?:this\s+)?to)"
        r"\s+the\s+user\b",
        documents_only=True,
    ),
    # -- data exfiltration: a URL that would carry the conversation out -------------------
    _p(
        "url_with_placeholder",
        "data_exfiltration",
        "high",
        rf"{_MD_URL}[^\s)\"'>?&#]{{0,300}}[?&#][^\s)\"'>]{{0,300}}?"
        r"(?:\{[^}\s]{1,40}\}|\[[A-Z_ ]{2,40}\]"
        r"|\$\{?\w+|%7B|<[A-Z_]{2,40}>|(?-i:\b(?:INSERT|DATA|SECRET|CONVERSATION|HISTORY"
        r"|SUMMARY|EMAIL|PASSWORD)\b))",
    ),
    _p(
        "image_with_sensitive_param",
        "data_exfiltration",
        "medium",
        r"(?:!\[[^\]\n]{0,200}\]\(\s*<?|<img\b[^>]{0,200}?\bsrc\s*=\s*[\"']?)https?://"
        r"[^\s)\"'>]{0,300}?[?&](?:data|secret|conversation|convo|chat|history|prompt|system_prompt"
        r"|password|passwd|pwd|ssn|email|memory|context|session|exfil|leak|payload|msg"
        r"|message|info|summary|answer)=",
    ),
    _p(
        "put_conversation_in_url",
        "data_exfiltration",
        "high",
        r"\b(?:append|add|include|insert|encode|embed|put|send|attach)\b[^.\n]{0,60}?"
        r"\b(?:conversation|chat\s+history|user'?s?\s+(?:messages?|questions?|password)"
        r"|system\s+prompt|previous\s+messages)\b[^.\n]{0,60}?\b(?:url|link|query\s+"
        r"(?:string|param(?:eter)?s?)|image\s+(?:url|link|source|src))\b",
    ),
)

INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad")


def match_patterns(text: str, document: bool) -> list[Hit]:
    return [
        Hit(p.tactic, p.name, p.confidence, m.start(), m.end(), excerpt(m.group(0)))
        for p in PATTERNS
        if document or not p.documents_only
        for m in p.regex.finditer(text)
    ]


def excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join("".join(ch for ch in text if ch not in INVISIBLE).split()).lstrip(".!? ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
