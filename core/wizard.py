"""The one wizard framework: ordered steps, which of them may be opened, where to go next, and the stepper.

A `Wizard` is its steps, `(key, title)` in order. Each request passes in what only the caller knows: the
steps done (from wherever it keeps its state) and how to reach a step (a URL function). Two policies:

- ``in_order=True`` (the onboarding wizard, state in an OnboardingSession row): a step opens once every
  step before it is done, so a bookmarked later step cannot skip one.
- ``in_order=False`` (the Compute Pool wizard, a draft in the session): every step is a plain URL; the
  stepper links the earlier steps and the done ones, and marks an earlier step not filled in validly as
  incomplete.

The stepper renders with ``templates/includes/wizard_steps.html``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class StepLink:
    """One entry of the stepper."""

    key: str
    title: str
    number: int
    done: bool
    current: bool
    open: bool
    url: str
    #: "current", "done", "todo" (an earlier step left incomplete) or "": the entry's CSS class.
    state: str


@dataclass(frozen=True)
class Wizard:
    steps: tuple[tuple[str, str], ...]
    in_order: bool = True

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.steps]

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def title(self, key: str) -> str:
        return dict(self.steps)[key]

    def number(self, key: str) -> int:
        """The step's place, counting from 1 ("Step 3 of 7")."""
        return self.keys.index(key) + 1

    def next(self, key: str) -> str | None:
        keys = self.keys
        index = keys.index(key)
        return keys[index + 1] if index + 1 < len(keys) else None

    def previous(self, key: str) -> str | None:
        index = self.keys.index(key)
        return self.keys[index - 1] if index else None

    def first_open(self, done: Iterable[str]) -> str:
        """The first step not done yet (the last step once all are)."""
        done = set(done)
        return next((key for key in self.keys if key not in done), self.keys[-1])

    def can_open(self, key: str, done: Iterable[str], current: str | None = None) -> bool:
        """In order: every step before `key` is done. Otherwise: `key` is done or comes before `current`."""
        done = set(done)
        before = self.keys[: self.keys.index(key)]
        if self.in_order:
            return all(k in done for k in before)
        return key in done or (current is not None and key in self.keys[: self.keys.index(current)])

    def stepper(self, current: str, done: Iterable[str], url: Callable[[str], str]) -> list[StepLink]:
        """The stepper's entries for a page showing step `current`."""
        done = set(done)
        earlier = set(self.keys[: self.keys.index(current)])
        links = []
        for number, (key, title) in enumerate(self.steps, start=1):
            if key == current:
                state = "current"
            elif key in done:
                state = "done"
            elif key in earlier and not self.in_order:
                state = "todo"
            else:
                state = ""
            links.append(
                StepLink(
                    key=key,
                    title=title,
                    number=number,
                    done=key in done,
                    current=key == current,
                    open=key != current and self.can_open(key, done, current),
                    url=url(key),
                    state=state,
                )
            )
        return links
