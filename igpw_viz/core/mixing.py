"""What grouping costs: how many of a block's inputs each of its outputs reads (pure Python, no torch).

A dense Ic -> Fc conv lets every output read every input. K, the interleave, L and the sum save weights
by cutting some of these paths; `Mixing` puts a number on the cut, next to the weights saved.
`PointwisePlan.mixing()` is the entry point; it summarises `PointwisePlan.connectivity()`, computed here
with one bit mask per output channel (fast enough for a widget sweeping every Ch of a 1280 -> 1280 conv).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: plan.py imports this module
    from .plan import PointwisePlan


def plural(count: int, word: str) -> str:
    """'1 channel', '2 channels': a count with its noun in the right number."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def percent(fraction: float) -> str:
    """A fraction as a short percentage that never rounds a partial value to 0% or 100%:
    0.4 -> '40%', 0.025 -> '2.5%', 1/1280 -> '0.078%', 239/240 -> '99.6%'."""
    value = 100 * fraction
    if value in (0, 100) or 10 <= value <= 99:
        return f"{value:.0f}%"
    if value < 1:
        return f"{value:.2g}%"
    digits = 1
    while value > 99 and f"{value:.{digits}f}".startswith("100"):
        digits += 1  # 99.96 -> '99.96', not '100.0'
    return f"{value:.{digits}f}".removesuffix(".0") + "%"


@dataclass(frozen=True)
class Mixing:
    """How many of the block's ``in_channels`` inputs each of its ``out_channels`` outputs reads (through
    K, the interleave, L and the sum): between ``min_inputs`` and ``max_inputs``; ``full_outputs`` of
    the outputs read every input. A dense conv has ``min_inputs == in_channels``."""

    in_channels: int
    out_channels: int
    min_inputs: int
    max_inputs: int
    full_outputs: int

    @property
    def min_fraction(self) -> float:
        """The fewest inputs one output reads, as a fraction of all inputs."""
        return self.min_inputs / self.in_channels

    @property
    def max_fraction(self) -> float:
        """The most inputs one output reads, as a fraction of all inputs."""
        return self.max_inputs / self.in_channels

    @property
    def full_fraction(self) -> float:
        """Fraction of the outputs that read every input (1.0 for a dense conv)."""
        return self.full_outputs / self.out_channels

    @property
    def is_full(self) -> bool:
        """True when every output reads every input, as in the dense conv."""
        return self.min_inputs == self.in_channels

    @property
    def span(self) -> str:
        """The share of the inputs an output reads: '2.5%' or, when outputs differ, '80-100%'."""
        if self.min_inputs == self.max_inputs:
            return percent(self.min_fraction)
        return f"{percent(self.min_fraction).removesuffix('%')}-{percent(self.max_fraction)}"

    @property
    def reads(self) -> str:
        """'192-240 of 240 inputs (80-100%)', '6 of 240 inputs (2.5%)' or 'all 240 inputs (100%)'."""
        if self.is_full:
            return "its only input (100%)" if self.in_channels == 1 else f"all {self.in_channels} inputs (100%)"
        if self.min_inputs == self.max_inputs:
            return f"{self.min_inputs} of {plural(self.in_channels, 'input')} ({self.span})"
        return f"{self.min_inputs}-{self.max_inputs} of {plural(self.in_channels, 'input')} ({self.span})"

    def __str__(self) -> str:
        return f"each output reads {self.reads}"


def mixing_lines(plan: PointwisePlan) -> list[str]:
    """The lines `PointwisePlan.describe()` ends with: the mixing next to the savings, and a plain-words
    note when Ch = 1 leaves groups one channel wide (they only scale channels, so nothing is mixed)."""
    m, k, l = plan.mixing(), plan.k, plan.l
    if m.is_full:
        return [f"Mixing: {m}, as in the dense conv."]
    full = f"; {m.full_outputs} of {m.out_channels} outputs read every input" if m.full_outputs else ""
    lines = [f"Mixing: {m}, where a dense conv reads all {m.in_channels}{full}."]
    saved = f"The {100 * plan.savings:.1f}% saving is paid for with the mixing"
    if k.inputs_per_group == 1:
        what = "K and L only scale channels" if l is not None else "K only scales and copies channels"
        lines.append(f"Note: with Ch = 1 every group is one channel wide, so {what}: each output reads "
                     f"{plural(m.max_inputs, 'input')} and nothing is mixed. {saved}.")
    elif l is not None and l.inputs_per_group == 1:
        lines.append(f"Note: with Ch = 1 L's groups are one channel wide, so the interleave, L and the sum "
                     f"add no mixing: each output reads only the {m.max_inputs} inputs of its K group "
                     f"({percent(m.max_fraction)}). {saved}.")
    return lines


def input_masks(plan: PointwisePlan) -> tuple[int, ...]:
    """For each block output, the inputs it depends on as a bit mask (bit i: input channel i), composed
    group by group through K, the interleave, L and the sum; ``plan.connectivity()`` lists these sets."""
    k = plan.k
    k_groups = [sum(1 << i for i in set(k.group_inputs(g))) for g in range(k.groups)]
    k_out = [k_groups[g] for g in k.output_groups]
    if plan.l is None:
        return tuple(k_out[s] for s in plan.output_sources)
    l_groups = []
    for h in range(plan.l.groups):
        mask = 0
        for c in set(plan.l_group_k_channels(h)):
            mask |= k_out[c]
        l_groups.append(mask)
    return tuple(l_groups[h] | k_out[o] for o, h in enumerate(plan.l.output_groups))  # + the sum's skip


def plan_mixing(plan: PointwisePlan) -> Mixing:
    """The mixing of one plan (use ``plan.mixing()``, which caches it)."""
    ic = plan.in_channels
    counts = [m.bit_count() for m in input_masks(plan)]
    return Mixing(ic, plan.out_channels, min(counts), max(counts), sum(n == ic for n in counts))


__all__ = ["Mixing", "input_masks", "mixing_lines", "percent", "plan_mixing", "plural"]
