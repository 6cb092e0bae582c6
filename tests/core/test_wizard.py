"""core.wizard: the step order, what opens, and the stepper both wizards render."""

from __future__ import annotations

from core.wizard import Wizard

STEPS = (("a", "First"), ("b", "Second"), ("c", "Third"))


def _url(key: str) -> str:
    return f"/w/{key}/"


def test_it_walks_the_steps_in_order():
    wizard = Wizard(STEPS)
    assert (wizard.next("a"), wizard.next("c"), wizard.previous("a"), wizard.previous("c")) == (
        "b",
        None,
        None,
        "b",
    )
    assert (wizard.number("c"), wizard.title("b"), "b" in wizard, "x" in wizard) == (3, "Second", True, False)
    assert (wizard.first_open([]), wizard.first_open(["a"]), wizard.first_open(["a", "b", "c"])) == (
        "a",
        "b",
        "c",
    )


def test_in_order_a_step_opens_only_once_every_step_before_it_is_done():
    wizard = Wizard(STEPS)
    assert [wizard.can_open(k, ["a"]) for k in wizard.keys] == [True, True, False]
    stepper = wizard.stepper("b", ["a"], _url)
    assert [(s.state, s.open, s.number, s.url) for s in stepper] == [
        ("done", True, 1, "/w/a/"),
        ("current", False, 2, "/w/b/"),
        ("", False, 3, "/w/c/"),
    ]


def test_out_of_order_earlier_and_done_steps_are_links_and_an_incomplete_earlier_one_says_so():
    wizard = Wizard(STEPS, in_order=False)
    stepper = wizard.stepper("b", ["c"], _url)
    assert [(s.key, s.state, s.open) for s in stepper] == [
        ("a", "todo", True),
        ("b", "current", False),
        ("c", "done", True),
    ]
