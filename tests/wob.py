"""Test doubles for sweeps: a "model" that reads each MiniWoB episode's target from the DOM.

Test-only; never a shipped model. It comes in two parts so that it goes through the sweep's
batching like a real backend:

- ``DomAnswers`` is the shared model the sweep batches for. For each request it answers the text
  that the request's own episode prepared, so a batch that mixed up its callers' completions
  would click the wrong targets and the episodes would fail. It records each batch's size, and
  can raise ``KeyboardInterrupt`` on its k-th call (an interrupted sweep).
- ``DomEpisode`` is one episode's model (made by the sweep's ``episode_model`` hook): in the
  worker's thread it reads the utterance's quoted target from its own page, computes the click
  (``wrong``: 60 px below it), hands that text to ``DomAnswers`` and asks the shared model.

Works for tasks whose utterance quotes the text of a button, link or span (click-button,
click-link); the answer is in Gaze's dialect in viewport CSS px (the task area is not resized).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence

from actions.environment import Environment
from agent.sweep import Job
from perception.model import Completion, Model, ModelRequest

FIND_JS = """(text) => {
  for (const el of document.querySelectorAll('#area button, #area a, #area span')) {
    if (el.innerText.trim() === text) { const r = el.getBoundingClientRect();
      return [r.left + r.width / 2, r.top + r.height / 2]; }
  }
  return null;
}"""


def dom_click(env: Environment, *, wrong: bool = False) -> str:
    """The click on the element the utterance quotes, read from the live page."""
    utterance = str(env.evaluate("() => core.getUtterance()"))
    target = re.search(r'"([^"]+)"', utterance)
    assert target, utterance
    point = env.evaluate(FIND_JS, target.group(1))
    assert isinstance(point, list), (utterance, point)
    x, y = (float(v) for v in point)
    return f"click({x:.0f}, {y + 60 if wrong else y:.0f})"


class DomAnswers:
    """The shared double; see the module docstring."""

    name = "dom-reader"

    def __init__(self, *, interrupt_at: int | None = None) -> None:
        self.interrupt_at = interrupt_at
        self.batch_sizes: list[int] = []
        self._texts: dict[int, str] = {}
        self._lock = threading.Lock()

    def expect(self, request: ModelRequest, text: str) -> None:
        with self._lock:
            self._texts[id(request)] = text

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        with self._lock:
            self.batch_sizes.append(len(requests))
            if self.interrupt_at is not None and len(self.batch_sizes) == self.interrupt_at:
                raise KeyboardInterrupt("the test interrupts the sweep")
            texts = [self._texts.pop(id(r)) for r in requests]
        return [Completion(text=t, completion_tokens=len(t.split())) for t in texts]


class DomEpisode:
    """One episode's view of the double: prepares its answers from its own page."""

    def __init__(self, shared: Model, answers: DomAnswers, env: Environment, wrong: bool) -> None:
        self.shared, self.answers, self.env, self.wrong = shared, answers, env, wrong
        self.name = answers.name

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        for r in requests:
            self.answers.expect(r, dom_click(self.env, wrong=self.wrong))
        return self.shared.generate(requests)


def dom_reader(
    answers: DomAnswers,
    *,
    wrong: Callable[[Job], bool] = lambda job: False,
    attempts: list[Job] | None = None,
) -> Callable[[Model, Job, Environment], Model]:
    """The sweep's ``episode_model`` hook; ``attempts`` collects every episode started."""

    def hook(shared: Model, job: Job, env: Environment) -> Model:
        if attempts is not None:
            attempts.append(job)  # list.append is atomic: workers may call this concurrently
        return DomEpisode(shared, answers, env, wrong(job))

    return hook
