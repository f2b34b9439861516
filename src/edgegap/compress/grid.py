"""`edgegap compress --grid FILE.yaml`: many recipes measured on one small model, each a task
of `edgegap.runner` (so on several workers or a Ray cluster as well as here).

    model: lenet-5
    dataset: mnist10k          # default: the model's
    dense_epochs: 30           # dense training shared by every recipe (default: compress's)
    seed: 0
    target: eyeriss            # optional: energy on this platform
    recipes:
      - [prune: 0.9, weight-sharing: 5, huffman]          # a recipe, as --recipe takes it
      - steps: [prune: {sparsity: 0.5, epochs: 1}, weight-sharing: 5]
        vary: {prune.sparsity: [0.5, 0.7, 0.9], weight-sharing: [4, 5]}   # 6 recipes

`vary` expands one recipe into one per combination of its values (in the order written): a
key is a step's technique and one of its parameters (`prune.sparsity`), or the technique
alone for its main parameter. The model is trained dense once, then every recipe runs on a
copy of it with the grid's seed (the same random numbers for each, so two rows differ by
their recipes only), exactly as `edgegap compress --recipe` runs one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Imported here, not in the task: a worker imports them once, while it starts.
from edgegap.compress.compose import parse_steps, run_recipe
from edgegap.compress.recipes import DATASET_OF, FULL
from edgegap.errors import UserError
from edgegap.hardware import load_platform
from edgegap.runner import Outcome, Task, Workers, run_tasks
from edgegap.techniques import get
from edgegap.training import resolve_dataset, seeded_model, train

KEYS = {"model", "dataset", "dense_epochs", "seed", "target", "recipes"}


@dataclass(frozen=True)
class Grid:
    """A grid file read and checked: the tasks to run and what they share."""

    model: str
    dataset: str
    dense_epochs: int
    seed: int
    target: str | None
    recipes: list[list[dict[str, Any]]]

    def tasks(self) -> list[Task]:
        common = {"model": self.model, "dataset": self.dataset,
                  "dense_epochs": self.dense_epochs, "target": self.target}  # fmt: skip
        return [Task(common | {"recipe": recipe}, self.seed) for recipe in self.recipes]


@dataclass(frozen=True)
class GridResult:
    grid: Grid
    outcomes: list[Outcome]

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.result is None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.grid.model,
            "dataset": self.grid.dataset,
            "dense_epochs": self.grid.dense_epochs,
            "seed": self.grid.seed,
            "platform": self.grid.target,
            "recipes": [
                {"recipe": recipe_label(o.task.input["recipe"]), "steps": o.task.input["recipe"],
                 "result": o.result, "error": o.error}
                for o in self.outcomes
            ],
        }  # fmt: skip


def recipe_label(items: list[dict[str, Any]]) -> str:
    """`prune (sparsity=0.5) -> weight-sharing (bits=5)`: each step and the values it sets."""

    def step(item: dict[str, Any]) -> str:
        ((name, params),) = item.items()
        values = ", ".join(f"{k}={'per layer' if isinstance(v, dict) else v}"
                           for k, v in params.items())  # fmt: skip
        return f"{name} ({values})" if values else name

    return " -> ".join(step(item) for item in items)


def read_grid(path: Path) -> Grid:
    """The grid in `path`, every recipe checked against the registry before anything runs."""
    origin = str(path)
    if not path.is_file():
        raise UserError(f"grid file not found: {path}")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{origin}: not a UTF-8 text file; a grid is YAML") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not YAML"
        raise UserError(f"{origin}{where}: malformed YAML ({problem})") from None
    except (RecursionError, ValueError, TypeError, OverflowError):
        raise UserError(f"{origin}: malformed YAML (a value YAML cannot read)") from None
    if not isinstance(spec, dict) or "recipes" not in spec or "model" not in spec:
        raise UserError(f"{origin}: a grid is a YAML mapping with 'model' and 'recipes', e.g. "
                        "'model: lenet-5' and 'recipes: [[prune: 0.9]]'")  # fmt: skip
    unknown = sorted(str(k) for k in spec if k not in KEYS)
    if unknown:
        raise UserError(f"{origin}: unknown key {', '.join(unknown)}: a grid takes "
                        f"{', '.join(sorted(KEYS))}")  # fmt: skip
    model = spec["model"]
    if model not in DATASET_OF:
        raise UserError(f"{origin}: unknown small model {model!r}: use one of "
                        f"{', '.join(DATASET_OF)}")  # fmt: skip
    dataset = spec.get("dataset", DATASET_OF[model])
    if not isinstance(dataset, str):
        raise UserError(f"{origin}: dataset must be a name or a directory, got {dataset!r}")
    dense_epochs = _whole(spec.get("dense_epochs", FULL.dense_epochs), "dense_epochs", origin, 0)
    seed = _whole(spec.get("seed", 0), "seed", origin, 0)
    target = spec.get("target")
    if target is not None and not isinstance(target, str):
        raise UserError(f"{origin}: target must be a platform name or file, got {target!r}")
    entries = spec["recipes"]
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{origin}: recipes must be a non-empty list of recipes")
    recipes = []
    for number, entry in enumerate(entries, 1):
        where = f"{origin}: recipe {number}"
        for items in _expanded(entry, where):
            parse_steps(items, where)  # every step and value checked here, not in a worker
            recipes.append(items)
    return Grid(model, dataset, dense_epochs, seed, target, recipes)


def _whole(value: Any, key: str, origin: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{origin}: {key} must be a whole number >= {low}, got {value!r}")
    return value


def _expanded(entry: Any, where: str) -> list[list[dict[str, Any]]]:
    """A recipe entry as the recipes it stands for, each step as `{technique: {params}}`."""
    if isinstance(entry, dict):
        extra = sorted(str(k) for k in entry if k not in ("steps", "vary"))
        if "steps" not in entry or extra:
            raise UserError(f"{where}: a recipe is a list of steps, or a mapping of 'steps' "
                            "and 'vary'")  # fmt: skip
        items, vary = entry["steps"], entry.get("vary", {})
    else:
        items, vary = entry, {}
    if not isinstance(items, list) or not items:
        raise UserError(f"{where}: a recipe is a YAML list of steps, e.g. '- prune: 0.9'")
    steps: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(items, 1):
        if isinstance(item, str):
            steps.append((item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            ((name, value),) = item.items()
            if not isinstance(name, str):
                raise UserError(f"{where}: step {index}: the technique's name must be text")
            if isinstance(value, dict):
                steps.append((name, dict(value)))
            else:
                try:
                    bare = get(name).bare
                except UserError as error:
                    raise UserError(f"{where}: step {index}: {error}") from None
                if bare is None:
                    raise UserError(f"{where}: step {index}: {name} takes no value; write "
                                    f"'- {name}'")  # fmt: skip
                steps.append((name, {bare: value}))
        else:
            raise UserError(f"{where}: step {index} must be a name or one 'name: params' pair")
    if not isinstance(vary, dict):
        raise UserError(f"{where}: vary must map 'technique.parameter' to a list of values")
    axes = []
    for key, values in vary.items():
        name, _, param = str(key).partition(".")
        matches = [i for i, (step, _) in enumerate(steps) if step == name]
        if len(matches) != 1:
            raise UserError(f"{where}: vary {key}: the recipe has {len(matches)} {name} steps; "
                            "vary names exactly one")  # fmt: skip
        if not param:
            try:
                param = get(name).bare or ""
            except UserError as error:
                raise UserError(f"{where}: vary {key}: {error}") from None
        if not param:
            raise UserError(f"{where}: vary {key}: {name} has no main parameter; name one")
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: vary {key} must be a non-empty list of values")
        axes.append([(matches[0], param, value) for value in values])
    recipes = []
    for choice in itertools.product(*axes):
        chosen = [(name, dict(params)) for name, params in steps]
        for index, param, value in choice:
            chosen[index][1][param] = value
        recipe = [{name: params} for name, params in chosen]
        try:  # what the task's input must be: JSON, keys as text
            recipes.append(json.loads(json.dumps(recipe)))
        except (TypeError, ValueError):
            raise UserError(f"{where}: a value is not a number, text or list") from None
    return recipes


def dense_model(model: str, dataset: str, epochs: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """The grid's dataset and the model trained dense on it, as `compress` trains it; what
    every recipe task shares."""
    data = resolve_dataset(dataset)
    network = seeded_model(model, data, seed)
    train(network, data, epochs, seed=seed, weight_decay=FULL.dense_weight_decay)
    return data, network.state_dict()


def measure_recipe(input: dict[str, Any], seed: int, shared: Any) -> dict[str, Any]:
    """One grid task: the recipe run on a copy of the shared dense model, every stage
    measured (`compose.run_recipe`)."""
    data, weights = shared
    network = seeded_model(input["model"], data, seed)
    network.load_state_dict(weights)
    platform = load_platform(input["target"]) if input["target"] is not None else None
    steps = parse_steps(input["recipe"])
    return run_recipe(network, input["model"], steps, data, platform, seed).to_dict()


def run_grid(
    path: Path,
    workers: Workers | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GridResult:
    """Every recipe of the grid at `path` measured, in the file's order."""
    grid = read_grid(path)
    if grid.target is not None:
        load_platform(grid.target)  # an unknown platform fails before any training

    def shared() -> tuple[Any, dict[str, Any]]:
        return dense_model(grid.model, grid.dataset, grid.dense_epochs, grid.seed)

    outcomes = run_tasks(measure_recipe, grid.tasks(), shared, workers, progress)
    return GridResult(grid, outcomes)
