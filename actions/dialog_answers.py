"""Open JavaScript dialogs for ``BrowserEnv``: shown to the model, answered by its next action.

Contract:
- ``DialogAnswers.image()`` is what the model sees while a dialog is open: the dialog painted
  (``actions.dialogs``) over the last screenshot, with the prompt's text typed so far.
- ``DialogAnswers.answer(action)`` maps the model's next action onto the dialog: a click on OK or
  Cancel (``DialogLayout.hit``), Enter or Escape accept or dismiss it; a click in a prompt's field
  does nothing; typing adds to a prompt's answer (``submit`` accepts it); a wait waits. Anything
  else fails with a hint saying how to answer. Secret placeholders in a prompt's answer are filled
  in only when it is sent. Once the dialog is answered, the action it interrupted (parked in
  ``BrowserEnv._pending``) is awaited again, and its result is returned.
- ``dialog_phrase`` says "an alert dialog", "a confirm dialog" for notes and errors.

Not here: noticing dialogs (``PageEvents.on_dialog``), drawing them (``actions.dialogs``), the
loop thread (``answer`` runs on the caller's thread and uses ``BrowserEnv._run``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PIL import Image
from playwright.async_api import Error as PlaywrightError

from actions import dialogs
from actions.capture import blank, shot_scale
from actions.environment import first_line
from actions.keys import normalize_combo
from actions.safety import SecretError
from actions.types import Action, ActionResult, Click, DialogInfo, KeyPress, Type, Wait

if TYPE_CHECKING:
    from actions.browser import BrowserEnv


def dialog_phrase(kind: str) -> str:
    """A dialog type with its article: "an alert dialog", "a confirm dialog"."""
    return f"{'an' if kind[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {kind} dialog"


class DialogAnswers:
    """The open dialog of one ``BrowserEnv``, shown and answered; see the module contract."""

    def __init__(self, env: BrowserEnv) -> None:
        self._env = env

    def _info(self) -> DialogInfo:
        info = self._env._dialog_info
        assert info is not None, "no dialog is open"
        return info

    def _layout(self) -> dialogs.DialogLayout:
        c = self._env.config
        return dialogs.layout(self._info(), c.viewport_w, c.viewport_h)

    def image(self) -> Image.Image:
        """The open dialog painted over the last screenshot."""
        env = self._env
        info = self._info()
        base = env._last_shot or blank(env.config)
        text = env._prompt_text if env._prompt_text is not None else info.default_value
        return dialogs.render(base, info, self._layout(), shot_scale(env.config), text)

    def answer(self, action: Action) -> ActionResult:
        env = self._env
        info = self._info()
        hint = (
            f"{dialog_phrase(info.type)} is open ({info.message!r}): click OK"
            + (" or Cancel" if info.type != "alert" else "")
            + ", or press Enter / Escape"
            + ("; type text to answer the prompt" if info.type == "prompt" else "")
        )
        match action:
            case Click(x=x, y=y):
                hit = self._layout().hit(x, y)
                if hit == "ok":
                    return self._resolve(accept=True)
                if hit == "cancel":
                    return self._resolve(accept=False)
                if hit == "field":
                    return ActionResult.success()
                return ActionResult.failure(hint)
            case KeyPress(keys=keys):
                try:
                    combo = normalize_combo(keys)
                except ValueError as e:
                    return ActionResult.failure(str(e))
                if combo == "Enter":
                    return self._resolve(accept=True)
                if combo == "Escape":
                    return self._resolve(accept=False)
                return ActionResult.failure(hint)
            case Type(text=text, submit=submit) if info.type == "prompt":
                env._prompt_text = (env._prompt_text or "") + text
                return self._resolve(accept=True) if submit else ActionResult.success()
            case Wait(seconds=s):
                env._run(asyncio.sleep(s), s + 5)
                return ActionResult.success()
            case _:
                return ActionResult.failure(hint)

    def _resolve(self, *, accept: bool) -> ActionResult:
        c = self._env.config
        budget = c.action_timeout_s + c.navigation_timeout_s + 5
        return self._env._run(self._resolve_async(accept), budget)

    async def _resolve_async(self, accept: bool) -> ActionResult:
        env = self._env
        dialog, info, text = env._dialog, env._dialog_info, env._prompt_text
        assert dialog is not None and info is not None
        try:  # a prompt's answer may name secrets: shown as placeholders, filled in only here
            answer = env.config.secrets.fill(text) if text is not None else None
        except SecretError as e:
            return ActionResult.failure(str(e))
        env._dialog = env._dialog_info = env._prompt_text = None
        try:
            if accept:
                await dialog.accept(answer if info.type == "prompt" else None)  # type: ignore[arg-type]
            else:
                await dialog.dismiss()
        except PlaywrightError as e:
            return ActionResult.failure(f"the dialog could not be answered: {first_line(e)}")
        verb = "accepted" if accept else "dismissed"
        env._notes.append(f"the {info.type} dialog was {verb}")
        if env._pending is None:
            return ActionResult.success(*env._drain_notes(None))
        task, env._pending = env._pending, None
        return await env._await_or_dialog(task)
