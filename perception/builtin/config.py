"""The built-in model's shape: one frozen pydantic config, stored as ``config.json`` beside the weights.

Contract: ``ModelConfig`` holds every number that the architecture, the tokenizer's limits and the
canvas depend on; weights are only valid with the config they were trained with. Training-only
settings (steps, learning rate, data) live in ``perception.builtin.train.TrainConfig``.
``differing(a, b)`` names the fields in which two dumped configs differ, sorted (a field one of
them lacks differs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

FORMAT = "gaze-builtin/2"


def differing(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ between two config dumps, sorted (see the contract)."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


class ModelConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = FORMAT
    canvas: int = Field(224, description="square input in px, 1 px = 1 CSS px; multiple of 16")
    stem_channels: tuple[int, ...] = Field(
        (48, 96, 192),
        description="a 4x4 stride-4 patchify conv, then one stride-2 conv block per further entry",
    )
    vision_layers: int = Field(1, description="transformer layers over the patch grid")
    width: int = Field(192, description="decoder width")
    heads: int = 4
    decoder_layers: int = 3
    mlp_ratio: int = 4
    pointer_dim: int = Field(128, description="query/key size of the pointer head")
    max_prompt_bytes: int = Field(160, description="prompt bytes kept (goal first, then history)")
    max_target_tokens: int = Field(48, description="answer tokens, <eos> included")
    max_words: int = Field(48, description="word slots per canvas (words read by the OCR)")
    word_bytes: int = Field(16, description="bytes of each word the model sees")
    context_vote: bool = Field(
        False, description="the match features' pointer vote is weighted by the decoder state"
    )
    state_vote: bool = Field(
        False,
        description="the match features' pointer vote is also weighted by the history facts "
        "(policy.prompt_state)",
    )
    history_marks: int = Field(
        0, description="mark channels on patches where earlier steps clicked (marks.py; 0: none)"
    )
    proposals: bool = Field(
        False,
        description="control outlines found by edge detection join the word slots (proposals.py)",
    )
    drop_slivers: bool = Field(
        False,
        description="outlines cut by the canvas edge and under 16 px thick are not proposed "
        "(proposals.box_proposals: the flat 'boxes' a tile cuts from a shadowed card)",
    )
    proposal_words: bool = Field(
        False,
        description="a proposal slot carries the match features of the words inside it "
        "(words.join_proposals); false: zeros",
    )
    proposal_labels: bool = Field(
        False,
        description="with proposal_words, a checkbox-sized outline with no word inside carries "
        "the match features of its label, the words just right of it (words.join_proposals)",
    )
    proposal_share: bool = Field(
        False,
        description="with proposal_words, a proposal's goal, quoted, history and similarity "
        "features are its words' token-weighted mean, not their max: the outline of 'Tab #1' no "
        "longer matches a goal naming 'Tab #2', nor a card a goal through its 'the' or 'in'",
    )
    page_outlines: bool = Field(
        False,
        description="with proposals, outlines are found once per page at lower edge thresholds, "
        "with underlined fields, and clipped to each canvas (proposals.page_proposals): a text "
        "field wider than the canvas, or drawn as a faint box or a line, is proposed too "
        "(drop_slivers does not apply: a page has no tile edges to cut a card)",
    )
    field_labels: bool = Field(
        False,
        description="with proposal_words, a wide outline with no word inside (an empty text "
        "field) carries the match features of its label: the words just left of it on its line, "
        "else the line just above it (words.join_proposals)",
    )
    round_outlines: bool = Field(
        False,
        description="with page_outlines, fully rounded outlines are proposed too (radio buttons, "
        "switches, pill buttons: proposals.page_proposals); with proposal_words, a tick-box-sized "
        "one whose centre lies in a word is a letter ('o', 'D') and is dropped, and a radio "
        "button the OCR read as a glyph takes its label's features (words.join_proposals)",
    )
    outline_text: bool = Field(
        False,
        description="with page_outlines, a button-sized outline holding no word is read by the "
        "OCR's recogniser alone and its caption ('5', 'A') becomes a word "
        "(outline_text.outline_words: the text detector drops single characters): an input "
        "rule, no tensor changes",
    )
    verb_head: bool = Field(
        False, description="a separate head picks the action's name (policy.py); decoding obeys it"
    )
    progress_state: bool = Field(
        False,
        description="with verb_head, the head also reads the page's progress facts: how many "
        "words the goal names on the page no earlier click has reached, and whether the newest "
        "click reached the one it names last (progress.py)",
    )
    span_head: bool = Field(
        False,
        description="a type() value is a span of the goal picked by start and end pointers over "
        "the prompt (spans.py), not copied byte by byte",
    )
    span_case: bool = Field(
        False,
        description="with span_head, a three-way head on the same state picks the value's letter "
        "case: as the goal writes it, upper or lower ('type agustina in capital letters')",
    )
    case_words: int = Field(
        0,
        ge=0,
        description="with span_case, the case head also reads the goal's words hashed into this "
        "many buckets (model.goal_words): 'capital' or 'lower' said anywhere in the goal",
    )
    goal_order: bool = Field(
        False,
        description="a seventh word feature: how early in the goal the word's first goal token "
        "comes (1 for the goal's first token, towards 0 for its last; words.word_features): "
        "'Click ONE, then TWO' names ONE first",
    )
    reached_words: bool = Field(
        False,
        description="with goal_order, two more word features (progress.mark_progress): 1 on a "
        "word an earlier click reached (the word clicked, a ticked box's label, a field's "
        "label), and 1 on a word the goal names later than one on the page no click reached; "
        "outlines take them from their words: the pointer tells the box it ticked from the one "
        "the goal names next, and a tile showing Go but not the unticked box named before it "
        "can tell Go is not next",
    )
    control_state: bool = Field(
        False,
        description="with reached_words and page_outlines, two more word features "
        "(words.ON_NAMED, words.ON_OTHER): a labelled tick box, radio button or switch drawn on "
        "(proposals.control_on: its accent-coloured pixels), named by the goal or not, on its "
        "outline and its label's words; "
        "they vote for their slot and for the patch under it alike (GazeVLM._pointer): a box "
        "the goal names that is ticked already needs no click, one it does not name does when "
        "the goal says 'only'",
    )
    span_flags: bool = Field(
        False,
        description="the span head's keys also weigh two facts per prompt byte: already typed "
        "by an earlier step, inside quotes (spans.position_flags)",
    )
    span_page: bool = Field(
        False,
        description="with span_flags, eight more facts per goal byte (spans.page_flags): the "
        "byte's word, the word before it and the word after it each shown on the page (a label, "
        "a caption), and each reached by the latest click (the label of the field in focus); "
        "whether the word starts a phrase, whether it ends one",
    )

    span_submit: bool = Field(
        False,
        description="with span_head, a head on the state after a typed value's closing quote "
        "decides whether the answer presses Enter (', submit=true'), reading the goal's words and "
        "word pairs hashed into submit_words buckets ('press Enter' against 'Enter market in')",
    )
    submit_words: int = Field(
        0, ge=0, description="with span_submit, the buckets of its goal words and word pairs"
    )

    answer_pointer: bool = Field(
        False,
        description='an answer read off the page is a point: done("V") is trained as '
        "done(<point>) at the word the OCR read as V, and the predictor writes that word's text "
        "(answers.py)",
    )

    answer_head: bool = Field(
        False,
        description="with answer_pointer, a head decides whether done( answers with a point "
        "(one logit from the state after 'done(' and the goal's words hashed into answer_words "
        "buckets), and the answer's point has a query of its own, without the match features' "
        "vote: both can be trained alone, leaving every other answer as it was (answers.py)",
    )
    answer_words: int = Field(0, ge=0, description="with answer_head, its goal-word buckets")

    avoid_typed_field: bool = Field(
        False,
        description="clicks land outside the fields the history typed into (each the "
        "smallest page outline, at most FIELD_MAX_H px tall, around the click that focused it "
        "that shows what was typed; predict.typed_fields): a decoding rule, no tensor changes",
    )

    submit_typing: bool = Field(
        False,
        description="with verb_head, right after a type() without Enter the head may not choose "
        "done(): every demonstration submits what it typed, with Enter or a click (no training "
        "step after such a type is done(); policy.typed_without_enter): a decoding rule, no "
        "tensor changes",
    )

    type_ahead: int = Field(
        0,
        ge=0,
        description="buckets of a head that reads the goal's words and word pairs and says "
        "whether it types a value (type_ahead.fit: logistic regression on the demonstrations' "
        "goals, no image); with it, at a goal's first step (no history) when the verb is "
        "click, decoding reads the value the span head would type and the click keeps off the "
        "page's words the goal names after that value and goes into a text field "
        "(type_ahead.first_click): the field comes before the button; 0: no head, no rule",
    )

    type_plan: int = Field(
        0,
        ge=0,
        description="with type_ahead, buckets of a second goal-words head (words, pairs and "
        "repeated words): how many type() steps the goal's demonstration has (0 to 3 or "
        "more), whether it types one value twice and whether its last type() presses Enter "
        "(type_ahead.fit fits it); with it the first-click rule holds at every step while the "
        "goal has values left to type (the look-ahead passing over values the history typed), "
        "neither done() nor Enter comes while typing is left, the last value's Enter is the "
        "plan's and the submit head's together, and a goal that repeats a value repeats one: "
        "a form's second field before its button. 0: no head, no rule",
    )

    scroll_find: int = Field(
        0,
        ge=0,
        description="with verb_head, buckets of a head that reads the goal's instruction "
        "words and their pairs and the page's find facts (find.find_facts: goal labels no page "
        "word holds, labels on the page no click reached, the history's scrolls) and says "
        "whether a step the verb head gives to click() scrolls instead; asked only where half "
        "or more of the goal's labels are absent and none is open (find.gate; find.fit: "
        "logistic regression on such click and scroll steps of the demonstrations, no "
        "image); 0: no head, no rule",
    )

    whole_phrase: bool = Field(
        False,
        description="with span_head, a typed value the span head chose inside a phrase of the "
        "goal runs on to the phrase's end (spans.whole_phrase: up to the next function word, "
        "quote, bracket or punctuation) when that span is a candidate too: 'Samir' of 'with "
        "Samir Varga and' types 'Samir Varga' (the head's end vote stopped after the first "
        "name); a decoding rule, no tensor changes",
    )

    inner_outline: bool = Field(
        False,
        description="a click whose pointer chose an outline holding smaller word slots (a "
        "card or a form row around a field and a button) goes to the most probable of those "
        "within INNER_NATS of it instead of the outline's centre, which may be the gap between "
        "them (GazeVLM._inner): a decoding rule, no tensor changes",
    )

    scroll_amount: bool = Field(
        True,
        description='whether the model writes how far to scroll (scroll(x, y, "down", 560)); '
        "off, scroll targets are trained without the amount and decoding allows none, so the "
        "executor's default distance applies (grammar.without_scroll_amount): what a tile does "
        "not show (the page's or the list's visible height) the model cannot measure",
    )

    @model_validator(mode="after")
    def _reached_needs_order(self) -> ModelConfig:
        if self.answer_head and not self.answer_pointer:
            raise ValueError("answer_head needs answer_pointer (it decides done(<point>))")
        if self.reached_words and not self.goal_order:
            raise ValueError("reached_words needs goal_order (the word features are a prefix)")
        if self.control_state and not (self.reached_words and self.page_outlines):
            raise ValueError(
                "control_state needs reached_words (the word features are a prefix) and "
                "page_outlines (the state is read from the page's pixels)"
            )
        if self.span_page and not self.span_flags:
            raise ValueError("span_page needs span_flags (its votes extend span_flags')")
        if self.type_plan and not self.type_ahead:
            raise ValueError("type_plan needs type_ahead (its first-click rule)")
        return self

    @property
    def state_size(self) -> int:
        """Length of a step's state vector: the history's facts (``policy.N_STATE``), then with
        ``progress_state`` the page's (``progress.N_PROGRESS``)."""
        from perception.builtin.policy import N_STATE
        from perception.builtin.progress import N_PROGRESS

        return N_STATE + (N_PROGRESS if self.progress_state else 0)

    @property
    def stride(self) -> int:
        return 4 * 2 ** (len(self.stem_channels) - 1)

    @property
    def grid(self) -> int:
        """Patches per side of the canvas (14 for 224 px at stride 16)."""
        return self.canvas // self.stride

    @property
    def max_len(self) -> int:
        """Longest sequence: <bos> prompt <sep>, the image tokens, the word slots, the answer."""
        return self.max_prompt_bytes + 2 + self.grid**2 + self.max_words + self.max_target_tokens

    @property
    def keys(self) -> int:
        """What a ``<point>`` can choose from: patches, then word slots (the "not here" slot aside)."""
        return self.grid**2 + self.max_words
