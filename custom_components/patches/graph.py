"""The model's graph runs its nodes in the order of their inputs, without dask's scheduler
(docs/performance.md)."""

from __future__ import annotations

from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

from custom_components.patches.replacing import replace

rasa_run = DaskGraphRunner.run  # Rasa's own, taken before any patch


def _minimal_schema(runner: DaskGraphRunner, targets: tuple[str, ...]) -> GraphSchema:
    """The runner's minimal schema for these targets, made once per runner and targets."""
    cache: dict[tuple[str, ...], GraphSchema] = runner.__dict__.setdefault("_otke_minimal_schemas", {})
    schema = cache.get(targets)
    if schema is None:
        schema = cache[targets] = runner._graph_schema.minimal_graph_schema(list(targets))
    return schema


def run(
    self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    """Rasa's DaskGraphRunner.run (same nodes, inputs, results and errors) without dask."""
    run_targets: list[str] = targets if targets else self._graph_schema.target_names
    schema = _minimal_schema(self, tuple(run_targets))
    # as in dask: an input is a literal value in the graph, a name clashing with a node is refused
    results: dict[str, Any] = {}
    if inputs:
        self._add_inputs_to_graph(inputs, dict(schema.nodes))
        results = {name: (name, value) for name, value in inputs.items()}

    def compute(name: str) -> Any:
        if name in results:
            return results[name]
        node = schema.nodes.get(name)
        if node is None:
            return name  # dask hands an unknown key over as it is; GraphNode warns about it
        args = [compute(need) for need in node.needs.values()]
        results[name] = self._instantiated_nodes[name](*args)
        return results[name]

    try:
        return dict(compute(target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


def run_the_graph_without_dask() -> None:
    """DaskGraphRunner.run without dask's scheduler."""
    replace(DaskGraphRunner, "run", run)
