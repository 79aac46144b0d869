"""A test-only "model" that reads the task's reference solution and writes it as model text.

For each request it resolves the next reference step against the live page (selectors -> the
element's centre in viewport px), converts that point into the coordinate space of the image the
request carries (its Frame: crop, resize, DPR, 0-1000 ...), and formats it in a dialect's syntax.
The loop must then parse that text back and click the same element, which is exactly the path a
real model's answer takes. It never ships as a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from actions.environment import Environment
from actions.types import Done
from perception.model import Completion, ModelError, ModelRequest
from perception.parsers import format_action
from perception.parsers.base import Dialect
from tasks.reference import resolve
from tasks.spec import TaskSpec


class ReferenceOracle:
    def __init__(self, task: TaskSpec, env: Environment, dialect: Dialect) -> None:
        assert task.reference, f"{task.id} has no reference solution"
        self.name = f"oracle:{dialect}"
        self.steps = list(task.reference)
        self.env = env
        self.dialect = dialect
        self.texts: list[str] = []
        self.finished = False

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        out = []
        for req in requests:
            if self.finished:
                raise ModelError("the reference solution is exhausted")
            image = req.last_image
            assert image is not None
            # a solution that does not end with done() gets one, as a model would say it
            action = resolve(self.steps.pop(0), self.env) if self.steps else Done()
            self.finished = not self.steps and isinstance(action, Done)
            text = format_action(action, image.frame, self.dialect)
            self.texts.append(text)
            out.append(Completion(text=text, completion_tokens=len(text.split())))
        return out
