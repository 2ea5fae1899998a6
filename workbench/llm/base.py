"""What every backend takes and returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

Messages = list[dict]  # [{"role": "user", "content": "..."}, ...]


class BackendError(RuntimeError):
    """A model could not be loaded or reached; the message says what to install or configure."""


@dataclass(frozen=True)
class GenParams:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Completion:
    text: str | None  # None when the call failed for good; see error
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


class ChoiceProbs(dict):
    """{choice: probability} as a plain dict, carrying the tokens the call used, so a
    probability call is counted like a generation (stats, cost estimates, the cache row)."""

    def __init__(self, probs: dict[str, float], prompt_tokens: int = 0, completion_tokens: int = 0):
        super().__init__(probs)
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens


class Backend(Protocol):
    model_id: str  # names the model, and for servers which ones answered (stats, records)
    # a backend may also have cache_id: what determines its answers (the model, not the servers);
    # the response cache keys on it, and on model_id where it has none
    chunk_size: int  # how many prompts to send before results are cached

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]: ...
