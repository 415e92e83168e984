"""The wiring graphs read the plan faithfully: reachability equals the plan's connectivity."""

import random

import networkx as nx
import pytest

from igpw_viz.core.plan import plan_pointwise
from igpw_viz.viz.graph import edges_of_kind, group_graph, nodes_of_layer, reachability, wiring_graph


def _random_plans(n, seed=0, high=80):
    rng = random.Random(seed)
    for _ in range(n):
        yield plan_pointwise(rng.randint(1, high), rng.randint(1, high), rng.randint(1, 40),
                             rng.choice(["v1", "v2"]))


@pytest.mark.parametrize("seed", range(4))
def test_reachability_equals_connectivity_on_random_plans(seed):
    for plan in _random_plans(60, seed):
        assert reachability(wiring_graph(plan)) == plan.connectivity(), plan


@pytest.mark.parametrize("shape", [(240, 40, 16), (40, 240, 16), (24, 144, 16), (96, 4, 16), (320, 1280, 16),
                                   (16, 96, 16), (1152, 320, 16), (40, 24, 16), (1, 1, 1)])
@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_reachability_on_worked_examples(shape, scheme):
    plan = plan_pointwise(*shape, scheme)
    g = wiring_graph(plan)
    assert nx.is_directed_acyclic_graph(g)
    assert reachability(g) == plan.connectivity()
    assert [g.nodes[n]["index"] for n in nodes_of_layer(g, "input")] == list(range(plan.in_channels))
    assert [g.nodes[n]["index"] for n in nodes_of_layer(g, "output")] == list(range(plan.out_channels))


def test_240_40_attributes():
    """The spec's example: K 15 groups, groups 0-9 get 3 filters; L copies interleaved 0-7; step 2."""
    plan = plan_pointwise(240, 40, 16, "v2")
    g = wiring_graph(plan)
    k_groups = nodes_of_layer(g, "k_group")
    assert len(k_groups) == 15
    assert [g.nodes[n]["extra_filter"] for n in k_groups] == [True] * 10 + [False] * 5
    assert [g.nodes[n]["filters"] for n in k_groups] == [3] * 10 + [2] * 5
    assert nodes_of_layer(g, "k_replica") == []  # 15 * 16 = 240: no copies in K
    l_copies = nodes_of_layer(g, "l_replica")
    assert [g.nodes[n]["source"] for n in l_copies] == list(range(8))
    assert all(g.nodes[n]["replicated"] for n in l_copies)
    extra = [n for n in nodes_of_layer(g, "k_filter") if g.nodes[n]["extra_filter"]]
    assert sorted(g.nodes[n]["index"] for n in extra) == list(range(30, 40))  # path 2 comes last
    assert len(edges_of_kind(g, "interleave")) == 40
    assert len(edges_of_kind(g, "skip")) == 40
    assert all(g.nodes[n]["group"] == plan.k.output_groups[g.nodes[n]["source"]]
               for n in nodes_of_layer(g, "interleave"))


def test_40_240_copies_and_no_sum():
    plan = plan_pointwise(40, 240, 16, "v2")
    g = wiring_graph(plan)
    copies = nodes_of_layer(g, "k_replica")
    assert [g.nodes[n]["source"] for n in copies] == list(range(8))
    assert all(g.in_degree(n) == 1 and next(iter(g.predecessors(n))) == ("input", g.nodes[n]["source"])
               for n in copies)
    assert not nodes_of_layer(g, "sum") and not nodes_of_layer(g, "l_group")
    assert g.in_degree(("k_group", 2)) == 16


def test_v1_expansion_interleaves_without_l():
    plan = plan_pointwise(40, 240, 16, "v1")
    g = wiring_graph(plan)
    assert plan.l is None and plan.interleave is not None
    assert len(nodes_of_layer(g, "interleave")) == 240
    assert not nodes_of_layer(g, "sum")


def _block_reach(gg, plan):
    """For each output block, the input blocks that reach it in the group graph."""
    blocks = {n: set(gg.nodes[n]["channels"]) for n in nodes_of_layer(gg, "input")}
    out = {}
    for o in nodes_of_layer(gg, "output"):
        anc = nx.ancestors(gg, o)
        out[o] = {b for b in blocks if b in anc}
    return blocks, out


@pytest.mark.parametrize("seed", range(3))
def test_group_graph_matches_connectivity(seed):
    """An input block reaches an output block iff some channel of it feeds some channel of that block."""
    for plan in _random_plans(50, seed, high=200):
        gg = group_graph(plan)
        conn = plan.connectivity()
        blocks, reach = _block_reach(gg, plan)
        assert sorted(c for b in blocks.values() for c in b) == list(range(plan.in_channels))
        outs = [c for o in reach for c in gg.nodes[o]["channels"]]
        assert sorted(outs) == list(range(plan.out_channels)), plan
        for o, reached in reach.items():
            deps = set().union(set(), *(conn[c] for c in gg.nodes[o]["channels"]))
            expected = {b for b, chans in blocks.items() if chans & deps}
            assert reached == expected, plan


def test_group_graph_mix_weights_sum_to_l_inputs():
    plan = plan_pointwise(1152, 320, 16, "v2")
    gg = group_graph(plan)
    assert len(nodes_of_layer(gg, "k_group")) == 72 and len(nodes_of_layer(gg, "l_group")) == 20
    mix = sum(gg.edges[e]["weight"] for e in edges_of_kind(gg, "mix"))
    assert mix == len(plan.l.sources)
    k_in = sum(gg.edges[e]["weight"] for e in edges_of_kind(gg, "k_in"))
    assert k_in == len(plan.k.sources)


def test_invalid_shapes_get_the_plans_errors():
    with pytest.raises(ValueError, match="in_channels"):
        wiring_graph(plan_pointwise(0, 4, 2))
    with pytest.raises(TypeError, match="channels_per_group"):
        group_graph(plan_pointwise(4, 4, 2.5))
