"""The Model protocol: batched (images + text) requests in, completions with costs out.

Contract:
- ``Model.generate(requests)`` returns exactly one ``Completion`` per request, in order. A batch may
  hold the tiles of one screenshot or the steps of parallel episodes; backends that cannot batch
  simply loop.
- Images travel with the ``Frame`` that maps them back to the viewport, so whatever answers can be
  parsed without knowing how the image was made.
- A backend raises ``ModelError`` for infrastructure failures (server down, out of memory); the loop
  records it and decides whether to retry. Bad *text* is not an error here: parsing judges it.

Nothing here imports torch or transformers; real backends live in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from PIL.Image import Image

from perception.frames import Frame


@dataclass(frozen=True)
class ModelImage:
    image: Image
    frame: Frame
    label: str = "screen"


@dataclass(frozen=True)
class Message:
    """One chat turn. Images, when present, come before the text in the rendered prompt."""

    role: Literal["system", "user", "assistant"]
    text: str
    images: tuple[ModelImage, ...] = ()


@dataclass(frozen=True)
class ModelRequest:
    messages: tuple[Message, ...]
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()

    @property
    def images(self) -> tuple[ModelImage, ...]:
        return tuple(img for m in self.messages for img in m.images)

    @property
    def last_image(self) -> ModelImage | None:
        """The image the answer's coordinates refer to: the newest screenshot in the request."""
        imgs = self.images
        return imgs[-1] if imgs else None


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class ModelError(RuntimeError):
    """A backend could not produce a completion (not: the completion was nonsense)."""


@runtime_checkable
class Model(Protocol):
    name: str

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]: ...


class ScriptedModel:
    """A model whose answers are supplied ahead of time, for tests and for debugging a prompt.

    ``script`` is either a list of texts (answered in order; running past the end is a
    ``ModelError``) or a function from the request to the text. Every request is kept in
    ``calls`` so tests can assert on what the model was shown.
    """

    def __init__(
        self,
        script: Sequence[str] | Callable[[ModelRequest], str],
        *,
        name: str = "scripted",
    ) -> None:
        self.name = name
        self._script = script
        self._next = 0
        self.calls: list[ModelRequest] = []

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        out = []
        for req in requests:
            self.calls.append(req)
            if callable(self._script):
                text = self._script(req)
            else:
                if self._next >= len(self._script):
                    raise ModelError(f"scripted model ran out of answers after {self._next}")
                text = self._script[self._next]
                self._next += 1
            out.append(Completion(text=text, prompt_tokens=0, completion_tokens=len(text.split())))
        return out
