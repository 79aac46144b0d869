"""Test doubles that implement the real Protocols (Environment, Model); no mocks of our classes.

``FakeEnv`` is a tiny in-memory "browser": a screen of named rectangles drawn with PIL. Clicking a
rectangle runs its effect (change state, go to another screen, open a dialog-like state); typing
appends to ``typed``. It is enough to exercise the loop's bookkeeping without Chromium.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from actions.environment import BrowserConfig, EnvError, JsonValue
from actions.types import Action, ActionResult, Click, KeyPress, Observation, Scroll, Type, Wait


@dataclass
class Button:
    name: str
    box: tuple[int, int, int, int]  # x, y, w, h (CSS px)
    on_click: Callable[[FakeEnv], None] = lambda env: None

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


@dataclass
class FakeEnv:
    screens: dict[str, list[Button]]
    screen: str = "home"
    width: int = 400
    height: int = 300
    typed: str = ""
    state: dict[str, JsonValue] = field(default_factory=dict)
    acted: list[Action] = field(default_factory=list)
    fail_observe: bool = False
    fail_act: bool = False
    closed: bool = False

    @property
    def url(self) -> str:
        return f"fake://{self.screen}"

    def reset(self, url: str, config: BrowserConfig | None = None) -> ActionResult:
        self.screen = url.removeprefix("fake://") or "home"
        return ActionResult.success()

    def observe(self) -> Observation:
        if self.fail_observe:
            raise EnvError("browser gone")
        img = Image.new("RGB", (self.width, self.height), (250, 250, 250))
        d = ImageDraw.Draw(img)
        for i, b in enumerate(self.screens[self.screen]):
            x, y, w, h = b.box
            d.rectangle((x, y, x + w, y + h), fill=(40 * i % 255, 120, 200))
        d.text((5, 5), f"{self.screen} {self.typed} {sorted(self.state.items())}", fill=(0, 0, 0))
        return Observation(
            screenshot=img,
            url=self.url,
            title=self.screen,
            viewport_w=self.width,
            viewport_h=self.height,
            device_scale_factor=1.0,
        )

    def act(self, action: Action) -> ActionResult:
        if self.fail_act:
            raise EnvError("browser died mid-step")
        self.acted.append(action)
        match action:
            case Click(x=x, y=y):
                if not (0 <= x < self.width and 0 <= y < self.height):
                    return ActionResult.failure(f"({x:.0f}, {y:.0f}) is outside the viewport")
                for b in self.screens[self.screen]:
                    bx, by, bw, bh = b.box
                    if bx <= x <= bx + bw and by <= y <= by + bh:
                        b.on_click(self)
                return ActionResult.success()
            case Type(text=text):
                self.typed += text
                return ActionResult.success()
            case KeyPress() | Scroll() | Wait():
                return ActionResult.success()
            case _:
                return ActionResult.failure(f"{action.kind} is not supported by the fake")

    def evaluate(self, expression: str, arg: JsonValue = None) -> JsonValue:
        if expression in self.state:
            return self.state[expression]
        return None

    def close(self) -> None:
        self.closed = True


def two_screen_env() -> FakeEnv:
    """home has 'go' (-> next screen) and 'noop'; next has 'finish' which sets state done=True."""

    def go(env: FakeEnv) -> None:
        env.screen = "next"

    def finish(env: FakeEnv) -> None:
        env.state["done"] = True

    return FakeEnv(
        screens={
            "home": [Button("go", (20, 40, 100, 40), go), Button("noop", (200, 40, 100, 40))],
            "next": [Button("finish", (150, 150, 100, 40), finish)],
        }
    )
