"""A LangChain chat model whose every request goes through an :class:`LLMJudge`, for
libraries that take a chat model (RAGAS): see :meth:`LLMJudge.as_chat_model`."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field


class JudgedChat(BaseChatModel):
    """See :meth:`LLMJudge.as_chat_model`."""

    judge: Any = Field(exclude=True)

    @property
    def _llm_type(self) -> str:
        return "vigil-judge"

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: Any = None, **kwargs: Any,
    ) -> ChatResult:  # fmt: skip
        reply = self.judge.send(convert_to_openai_messages(messages))
        return ChatResult(generations=[ChatGeneration(message=reply)])
