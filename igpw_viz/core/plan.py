"""The wiring of an interleaved grouped pointwise block, as plain data (no torch).

`plan_pointwise(Ic, Fc, Ch, scheme)` is the single source of truth for the project: the layer, the
graphs, the drawings, the counts and the tests all read these index tables instead of re-deriving them.
The rules follow the authors' reference code (K-CAI `kConv2DType10` for V2, `kConv2DType2` for V1),
including its output channel order; `docs/algorithm.md` states them in full.

Block:  k = K(x);  t = interleave(k);  y = L(t) + k  if L exists, else y = t.
`PointwisePlan.mixing()` (see `mixing.py`) says what the grouping costs: how many inputs each output reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from .mixing import Mixing, input_masks, mixing_lines, plan_mixing, plural

SCHEMES = ("v1", "v2", "dense")  # "dense": the plain conv (the baseline inside the same network)


def _check_count(name: str, value: object) -> int:
    """Reject anything that is not a positive int (bools and floats included), naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _ranges(channels: tuple[int, ...]) -> str:
    """Compact text for a channel list: (0, 1, 2, 3, 7) -> '0-3, 7'."""
    parts, start = [], None
    for i, c in enumerate(channels):
        if start is None:
            start = c
        if i + 1 == len(channels) or channels[i + 1] != c + 1:
            parts.append(f"{start}" if start == c else f"{start}-{c}")
            start = None
    return ", ".join(parts)


@dataclass(frozen=True)
class GroupedStage:
    """One grouped 1x1 convolution of the block (K or L), as index tables.

    The stage's input is first extended: extended position ``e`` reads input channel ``sources[e]``
    (the identity, then copies of the first channels: the replication). Group ``g`` reads extended
    positions ``[g*inputs_per_group, (g+1)*inputs_per_group)``. Output channel ``o`` is filter
    ``output_filters[o]`` of group ``output_groups[o]`` (the reference order: every group's first
    ``min(filters_per_group)`` filters group-major, then the extra filters of the uneven groups).
    """

    in_channels: int
    out_channels: int
    groups: int
    inputs_per_group: int
    sources: tuple[int, ...]
    filters_per_group: tuple[int, ...]
    output_groups: tuple[int, ...]
    output_filters: tuple[int, ...]

    @property
    def is_dense(self) -> bool:
        return self.groups == 1

    @property
    def replicated(self) -> tuple[int, ...]:
        """Input channels that are copied to fill the last group (in the order they are appended)."""
        return self.sources[self.in_channels :]

    @property
    def weights(self) -> int:
        """Conv weights of this stage: each filter sees `inputs_per_group` channels."""
        return self.inputs_per_group * self.out_channels

    @property
    def base_filters(self) -> int:
        return min(self.filters_per_group)

    @property
    def uneven_groups(self) -> int:
        """How many groups carry one filter more than the others (they come first)."""
        return sum(f > self.base_filters for f in self.filters_per_group)

    def group_positions(self, group: int) -> range:
        """The extended input positions read by one group: ``[g*c, (g+1)*c)``."""
        c = self.inputs_per_group
        return range(group * c, (group + 1) * c)

    @property
    def position_groups(self) -> tuple[int, ...]:
        """The group that reads each extended input position."""
        return tuple(e // self.inputs_per_group for e in range(len(self.sources)))

    def weight_positions(self) -> tuple[int, ...]:
        """The extended input position each weight entry reads, in weight order (filter o in the reference
        order, then its ``inputs_per_group`` entries): what turns the grouped weights into a dense matrix."""
        return tuple(e for g in self.output_groups for e in self.group_positions(g))

    def group_inputs(self, group: int) -> tuple[int, ...]:
        """The input channels (with replicated ones) read by one group, in reading order."""
        return tuple(self.sources[e] for e in self.group_positions(group))

    @property
    def widest_group(self) -> int:
        """The largest number of filters in one group."""
        return max(self.filters_per_group)

    def group_outputs(self, group: int) -> tuple[int, ...]:
        """The output channel numbers produced by one group, in filter order."""
        pairs = zip(self.output_filters, range(self.out_channels), self.output_groups, strict=True)
        return tuple(o for _, o, g in sorted(pairs) if g == group)

    def connectivity(self) -> tuple[tuple[int, ...], ...]:
        """For each output channel, the sorted input channels it reads."""
        per_group = [tuple(sorted(set(self.group_inputs(g)))) for g in range(self.groups)]
        return tuple(per_group[g] for g in self.output_groups)


def _stage(in_channels: int, out_channels: int, groups: int, inputs_per_group: int) -> GroupedStage:
    """Build the index tables of a grouped conv with replication and an uneven filter split."""
    extended = groups * inputs_per_group
    sources = tuple(range(in_channels)) + tuple(range(extended - in_channels))
    base, extra = divmod(out_channels, groups)
    filters = tuple(base + (g < extra) for g in range(groups))
    # Reference order: path 1 = `base` filters of every group (group-major), path 2 = the extra filters.
    out_groups = [g for g in range(groups) for _ in range(base)] + list(range(extra))
    out_filters = [j for _ in range(groups) for j in range(base)] + [base] * extra
    return GroupedStage(in_channels, out_channels, groups, inputs_per_group, sources, filters,
                        tuple(out_groups), tuple(out_filters))


def _v2_stage(in_channels: int, out_channels: int, channels_per_group: int) -> GroupedStage:
    """V2's grouped-conv routine (used for K and for L): groups capped by the filter count."""
    groups = min(math.ceil(in_channels / channels_per_group), out_channels)
    if groups == 1:
        return _stage(in_channels, out_channels, 1, in_channels)
    if groups * channels_per_group >= in_channels:
        width = channels_per_group
    else:  # groups was capped by out_channels: widen the groups instead
        width = math.ceil(in_channels / groups)
    return _stage(in_channels, out_channels, groups, width)


def _v1_groups(in_channels: int, out_channels: int, channels_per_group: int) -> int:
    """V1: the largest common divisor of Ic and Fc that is <= Ic // Ch (1 means: stay dense)."""
    start = max(1, min(in_channels, out_channels, in_channels // channels_per_group))
    for groups in range(start, 0, -1):
        if in_channels % groups == 0 and out_channels % groups == 0:
            return groups
    return 1


@dataclass(frozen=True)
class PointwisePlan:
    """How one Ic -> Fc pointwise conv is replaced: K, the interleave, L and the sum.

    ``interleave`` (from ``interleave_step``) is None (identity) or a permutation: position j of the
    interleaved tensor reads K's output channel ``interleave[j]``. With L: ``y = L(interleave(k)) + k``;
    without L the block's output is ``interleave(k)`` (V1 interleaves even then) or ``k``.
    """

    in_channels: int
    out_channels: int
    channels_per_group: int
    scheme: str
    k: GroupedStage
    interleave_step: int | None
    l: GroupedStage | None

    # ----------------------------------------------------------------- structure
    @property
    def is_dense(self) -> bool:
        """True when the block is the plain dense conv it would replace."""
        return self.k.is_dense

    @property
    def has_sum(self) -> bool:
        return self.l is not None

    @cached_property
    def interleave(self) -> tuple[int, ...] | None:
        """concat(k[t::step] for t in range(step)): position j of the result reads k[interleave[j]]."""
        if self.interleave_step is None:
            return None
        step = self.interleave_step
        return tuple(i for t in range(step) for i in range(t, self.out_channels, step))

    @cached_property
    def l_sources(self) -> tuple[int, ...]:
        """For each extended input position of L, the K output channel it reads (interleave composed
        with L's replication): the one gather the fast layer needs between K and L."""
        if self.l is None:
            return ()
        order = self.interleave if self.interleave is not None else tuple(range(self.out_channels))
        return tuple(order[s] for s in self.l.sources)

    def l_group_k_channels(self, group: int) -> tuple[int, ...]:
        """The K output channels that L's group ``group`` reads (interleave and replication applied)."""
        if self.l is None:
            raise ValueError("this plan has no L")
        return tuple(self.l_sources[e] for e in self.l.group_positions(group))

    @cached_property
    def output_sources(self) -> tuple[int, ...]:
        """For each block output channel, the K output channel it shows when there is no L."""
        if self.interleave is not None and self.l is None:
            return self.interleave
        return tuple(range(self.out_channels))

    # ----------------------------------------------------------------- counts
    @property
    def weights(self) -> int:
        """Conv weights of the block (= MACs per output pixel)."""
        return self.k.weights + (self.l.weights if self.l is not None else 0)

    @property
    def dense_weights(self) -> int:
        return self.in_channels * self.out_channels

    @property
    def macs_per_pixel(self) -> int:
        return self.weights

    @property
    def dense_macs_per_pixel(self) -> int:
        return self.dense_weights

    @property
    def convs(self) -> int:
        """Number of convolutions in the block (K, plus L when present)."""
        return 1 + (self.l is not None)

    def parameters(self, batch_norm: bool = False, bias: bool = False) -> int:
        """Trainable parameters: weights, plus Fc per conv for a bias, 2*Fc per conv for BN."""
        per_conv = self.out_channels * (int(bias) + 2 * int(batch_norm))
        return self.weights + self.convs * per_conv

    def dense_parameters(self, batch_norm: bool = False, bias: bool = False) -> int:
        return self.dense_weights + self.out_channels * (int(bias) + 2 * int(batch_norm))

    @property
    def savings(self) -> float:
        """Fraction of the dense conv's weights saved (0 when dense)."""
        return 1.0 - self.weights / self.dense_weights

    # ----------------------------------------------------------------- dependencies
    def l_connectivity(self) -> tuple[tuple[int, ...], ...]:
        """L's dependencies: for each output channel of L, the sorted K output channels it reads."""
        if self.l is None:
            return ()
        per_group = [tuple(sorted(set(self.l_group_k_channels(h)))) for h in range(self.l.groups)]
        return tuple(per_group[h] for h in self.l.output_groups)

    def connectivity(self) -> tuple[tuple[int, ...], ...]:
        """For each output channel of the whole block, the sorted input channels it depends on."""
        return tuple(tuple(i for i in range(self.in_channels) if mask >> i & 1) for mask in input_masks(self))

    @cached_property
    def _mixing(self) -> Mixing:
        return plan_mixing(self)

    def mixing(self) -> Mixing:
        """How many of the Ic inputs each output reads (min, max, how many read all): the price of the
        savings. Computed once per plan; ``str()`` reads 'each output reads 192-240 of 240 inputs (80-100%)'."""
        return self._mixing

    # ----------------------------------------------------------------- text
    def _stage_text(self, name: str, stage: GroupedStage) -> list[str]:
        if stage.is_dense:
            return [f"{name}: dense {stage.in_channels} -> {stage.out_channels} conv "
                    f"({stage.weights:,} weights)."]
        c = stage.inputs_per_group
        lines = [f"{name}: {stage.groups} groups of {plural(c, 'channel')} "
                 f"({stage.in_channels} -> {stage.out_channels}, {stage.weights:,} weights)."]
        if self.scheme == "v2" and c != self.channels_per_group:
            lines.append(f"   at most one group per filter ({stage.out_channels}), so each group reads ceil("
                         f"{stage.in_channels} / {stage.groups}) = {c} channels, not Ch = {self.channels_per_group}.")
        if stage.replicated:
            what = "channel" if name == "K" else ("the interleaved channel" if self.interleave else "K's channel")
            many = len(stage.replicated) > 1
            lines.append(f"   {what}{'s' if many else ''} {_ranges(stage.replicated)} "
                         f"{'are' if many else 'is'} replicated to fill group {stage.groups - 1}.")
        if stage.uneven_groups:
            first = "group 0 gets" if stage.uneven_groups == 1 else f"groups 0-{stage.uneven_groups - 1} get"
            lines.append(f"   {stage.out_channels} = {stage.groups} x {stage.base_filters} + "
                         f"{stage.uneven_groups}: {first} {stage.base_filters + 1} filters, "
                         f"the others {stage.base_filters}.")
        else:
            lines.append(f"   {plural(stage.base_filters, 'filter')} per group.")
        if c == 1:
            lines.append(f"   each group is one channel wide: {name} only scales single channels "
                         f"and mixes nothing.")
        return lines

    def _interleave_text(self) -> str:
        fc, step = self.out_channels, self.interleave_step
        if step is None:
            why = (f"Fc // Ch = {fc} // {self.channels_per_group} = {fc // self.channels_per_group} < 2"
                   if self.scheme == "v2" else f"Fc / G = {fc} / {self.k.groups} = 1")
            return f"No interleave ({why}): L reads K's channels in their own order."
        if step >= fc:
            return (f"Interleave with step {step} on {fc} channels: every run holds one channel, so the "
                    f"order does not change (this interleave moves nothing).")

        def run(t: int) -> str:
            items = list(range(t, fc, step))
            return ", ".join(map(str, items[:3])) + (", ..." if len(items) > 3 else "")
        return (f"Interleave with step {step}: K's channels {run(0)} then {run(1)}"
                f"{' and so on' if step > 2 else ''} ({step} runs).")

    def describe(self) -> str:
        """The plan as a teacher would explain it, one step per line, with what it saves and what it costs."""
        ch = self.channels_per_group
        head = (f"{self.scheme.upper()} plan for a {self.in_channels} -> {self.out_channels} pointwise conv, "
                f"Ch = {plural(ch, 'channel')} per group")
        if self.is_dense:
            weights = f"{self.dense_weights:,} weight{'s' if self.dense_weights > 1 else ''}"
            return "\n".join([f"{head}:", f"stays dense ({weights}): {self.dense_reason()}.",
                              f"Weights: {self.dense_weights:,}, none saved."] + mixing_lines(self))
        lines = [head + ":"] + self._stage_text("K", self.k)
        if self.l is not None:
            lines.append(self._interleave_text())
            lines += self._stage_text("L", self.l)
            into_l = "interleaved K" if self.interleave is not None else "K"
            lines.append(f"Sum: output = L({into_l}) + K" + (", with K taken before the interleave."
                                                              if self.interleave is not None else "."))
        elif self.interleave is not None:
            lines.append(self._interleave_text())
            lines.append("No L and no sum (an expansion): the output is K's output in the interleaved order.")
        else:
            lines.append("No L and no sum (an expansion): the block is K alone, so each output reads only "
                         "the inputs of its K group.")
        lines.append(f"Weights: {self.weights:,} instead of {self.dense_weights:,} "
                     f"({100 * self.savings:.1f}% saved).")
        return "\n".join(lines + mixing_lines(self))

    def dense_reason(self) -> str:
        """Why this plan keeps the conv dense, in words (meaningful when ``is_dense``)."""
        ic, ch = self.in_channels, self.channels_per_group
        if self.scheme == "dense":
            return "the scheme 'dense' keeps every pointwise conv as it is"
        if ch < ic:
            return self._rule_reason()
        return (f"{self._rule_reason()}; indeed Ch = {ch} >= Ic = {ic}: one group would hold every input, "
                f"so K would be the dense conv itself (no grouping)")

    def _rule_reason(self) -> str:
        ic, fc, ch = self.in_channels, self.out_channels, self.channels_per_group
        if self.scheme == "v1":
            return f"no common divisor of {ic} and {fc} above 1 is <= {ic} // {ch} = {ic // ch}"
        if fc == 1:
            return "a single filter cannot be split into groups"
        return (f"V2 replaces a conv only if Ic > 2*Ch ({ic} > {2 * ch} is false) or "
                f"Fc > Ic and Ic > Ch ({fc} > {ic} and {ic} > {ch} is false)")

    def __str__(self) -> str:
        return self.describe()


def plan_pointwise(in_channels: int, out_channels: int, channels_per_group: int,
                   scheme: str = "v2") -> PointwisePlan:
    """Plan the replacement of an `in_channels` -> `out_channels` 1x1 conv with Ch = channels_per_group.

    ``scheme``: "v2" (no divisibility constraints), "v1" (groups must divide Ic and Fc) or "dense" (keep the
    plain conv, whatever Ch)."""
    ic = _check_count("in_channels", in_channels)
    fc = _check_count("out_channels", out_channels)
    ch = _check_count("channels_per_group", channels_per_group)
    if not isinstance(scheme, str) or scheme.lower() not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    scheme = scheme.lower()
    dense = PointwisePlan(ic, fc, ch, scheme, _stage(ic, fc, 1, ic), None, None)
    if scheme == "dense":
        return dense

    if scheme == "v2":
        if not (ic > 2 * ch or (fc > ic and ic > ch)):
            return dense
        k = _v2_stage(ic, fc, ch)
        if k.is_dense or ic < fc:  # expansions: K alone, no interleave, no L
            return PointwisePlan(ic, fc, ch, scheme, k, None, None)
        step = fc // ch
        return PointwisePlan(ic, fc, ch, scheme, k, step if step >= 2 else None, _v2_stage(fc, fc, ch))

    groups = _v1_groups(ic, fc, ch)
    if groups == 1:
        return dense
    k = _stage(ic, fc, groups, ic // groups)
    step = fc // groups
    l = _stage(fc, fc, groups, fc // groups) if ic >= fc else None
    return PointwisePlan(ic, fc, ch, scheme, k, step if step > 1 else None, l)
