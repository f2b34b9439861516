"""The runner of measured searches: task order, per-task seeds, retry once, failures reported
with their input, the resume file; `compress --grid` and its errors; serial results equal to
a local 2-worker Ray's and a 2-node loopback cluster's byte for byte (slow: they start Ray)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from cli_checks import one_line_error
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.compress.grid import read_grid, recipe_label
from edgegap.errors import UserError
from edgegap.runner import Task, Workers, run_tasks, task_key

CALLS: list[Any] = []  # what the task functions below were called with, in order
STOP_AT: set[str] = set()  # inputs on which `draws` is stopped as by Ctrl-C


def draws(input: dict[str, Any], seed: int, shared: Any) -> dict[str, Any]:
    """A task whose result is random numbers from every generator the runner seeds."""
    if input["name"] in STOP_AT:
        raise KeyboardInterrupt
    CALLS.append(input["name"])
    return {"name": input["name"], "seed": seed, "python": random.random(),
            "torch": torch.rand(2).tolist(), "threads": torch.get_num_threads(),
            "shared": shared}  # fmt: skip


def flaky(input: dict[str, Any], seed: int, shared: Any) -> dict[str, Any]:
    """Fails the first time it sees an input, and every time for input 'never'."""
    CALLS.append(input["name"])
    if input["name"] == "never" or CALLS.count(input["name"]) == 1:
        raise ValueError(f"no luck with {input['name']}")
    return {"name": input["name"]}


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()
    STOP_AT.clear()


def tasks(*names: str, seed: int = 7) -> list[Task]:
    return [Task({"name": name}, seed) for name in names]


def test_results_come_in_task_order_each_seeded_alone():
    """A task draws the same numbers whatever ran before it, and on one torch thread."""
    forward = run_tasks(draws, tasks("a", "b", "c"))
    backward = run_tasks(draws, tasks("c", "b", "a"))
    assert [o.result["name"] for o in forward] == ["a", "b", "c"]
    assert [o.result for o in forward] == [o.result for o in reversed(backward)]
    assert forward[0].result == forward[1].result | {"name": "a"}  # the same seed, same draws
    assert {o.result["threads"] for o in forward} == {1}
    other = run_tasks(draws, tasks("a", seed=8))[0].result
    assert other["torch"] != forward[0].result["torch"]


def test_shared_is_computed_once_and_given_to_every_task():
    made = []

    def shared() -> str:
        made.append(1)
        return "weights"

    outcomes = run_tasks(draws, tasks("a", "b"), shared)
    assert made == [1] and [o.result["shared"] for o in outcomes] == ["weights", "weights"]


def test_a_failed_task_is_retried_once():
    outcomes = run_tasks(flaky, tasks("a", "b"))
    assert [o.result for o in outcomes] == [{"name": "a"}, {"name": "b"}]
    assert CALLS == ["a", "a", "b", "b"]


def test_a_task_failing_twice_is_reported_with_its_input_and_the_rest_go_on(tmp_path: Path):
    results = tmp_path / "results.jsonl"
    outcomes = run_tasks(flaky, tasks("a", "never", "b"), workers=Workers(results=results))
    assert CALLS.count("never") == 2
    assert [o.result is None for o in outcomes] == [False, True, False]
    failed = outcomes[1]
    assert failed.error == "ValueError: no luck with never"
    assert failed.describe() == (
        'task {"name":"never"} (seed 7) failed: ValueError: no luck with never'
    )
    assert len(results.read_text().splitlines()) == 2  # a failure is not recorded: rerun it


def test_an_interrupted_search_resumes_where_it_stopped(tmp_path: Path):
    """The results file holds the tasks finished before Ctrl-C; the rerun runs only the rest,
    does not recompute `shared`, and its results equal an uninterrupted run's."""
    results = tmp_path / "results.jsonl"
    names = ("a", "b", "c", "d")
    STOP_AT.add("c")
    with pytest.raises(KeyboardInterrupt):
        run_tasks(draws, tasks(*names), lambda: "w", Workers(results=results))
    STOP_AT.clear()
    assert [json.loads(line)["input"]["name"] for line in results.read_text().splitlines()] == [
        "a", "b"
    ]  # fmt: skip
    CALLS.clear()
    resumed = run_tasks(draws, tasks(*names), lambda: "w", Workers(results=results))
    assert CALLS == ["c", "d"]
    CALLS.clear()
    assert resumed == run_tasks(draws, tasks(*names), lambda: "w")

    def never() -> str:
        raise AssertionError("a finished search needs no shared data")

    again = run_tasks(draws, tasks(*names), never, Workers(results=results))
    assert again == resumed and CALLS == ["a", "b", "c", "d"]


def test_the_key_is_the_function_input_and_seed():
    key = task_key(draws, Task({"name": "a", "x": 1}, 7))
    assert key == task_key(draws, Task({"x": 1, "name": "a"}, 7))  # order of keys is no matter
    assert key != task_key(draws, Task({"name": "a", "x": 1}, 8))
    assert key != task_key(flaky, Task({"name": "a", "x": 1}, 7))


@pytest.mark.parametrize(
    "text", ["not json\n", '{"key": "k"}\n', '{"key": 3, "result": {}}\n', "[]\n"]
)
def test_a_foreign_results_file_is_a_user_error(tmp_path: Path, text: str):
    results = tmp_path / "results.jsonl"
    results.write_text('{"key": "k", "result": {}}\n' + text)
    with pytest.raises(UserError, match=r"results\.jsonl:2: not a line of edgegap's results"):
        run_tasks(draws, tasks("a"), workers=Workers(results=results))


def test_the_serial_path_never_imports_ray(tmp_path: Path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("model: lenet-5\ndense_epochs: 0\nrecipes: [[int8]]\n")
    code = (
        "import sys; from pathlib import Path; from edgegap.compress.grid import run_grid; "
        f"assert run_grid(Path({str(grid)!r})).outcomes[0].result; "
        "assert not any(m == 'ray' or m.startswith('ray.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vary_expands_a_recipe_in_the_order_written(tmp_path: Path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "model: lenet-5\nrecipes:\n  - [int8]\n"
        "  - steps: [prune: {sparsity: 0.5, epochs: 1}, weight-sharing: 5]\n"
        "    vary: {prune.sparsity: [0.5, 0.9], weight-sharing: [4, 5]}\n"
    )
    read = read_grid(grid)
    assert [recipe_label(recipe) for recipe in read.recipes] == [
        "int8",
        "prune (sparsity=0.5, epochs=1) -> weight-sharing (bits=4)",
        "prune (sparsity=0.5, epochs=1) -> weight-sharing (bits=5)",
        "prune (sparsity=0.9, epochs=1) -> weight-sharing (bits=4)",
        "prune (sparsity=0.9, epochs=1) -> weight-sharing (bits=5)",
    ]
    assert (read.model, read.dataset, read.dense_epochs) == ("lenet-5", "mnist10k", 30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: lenet-5\nrecipes: [[int8]\n", "grid.yaml:3: malformed YAML"),
        ("- int8\n", "a grid is a YAML mapping with 'model' and 'recipes'"),
        ("model: lenet-5\nrecipes: []\n", "recipes must be a non-empty list"),
        ("model: lenet-5\nrecipe: [[int8]]\nrecipes: [[int8]]\n", "unknown key recipe"),
        ("model: resnet50\nrecipes: [[int8]]\n", "unknown small model 'resnet50'"),
        ("model: lenet-5\ndense_epochs: -1\nrecipes: [[int8]]\n", "dense_epochs must be"),
        ("model: lenet-5\nrecipes: [[prnue: 0.5]]\n", "recipe 1: step 1: unknown technique"),
        ("model: lenet-5\nrecipes: [[prune: 1.5]]\n", "recipe 1: step 1: prune: sparsity"),
        ("model: lenet-5\nrecipes: [{steps: [int8], vary: {prune: [0.5]}}]\n",
         "vary prune: the recipe has 0 prune steps"),
        ("model: lenet-5\nrecipes: [{steps: [prune], vary: {prune: 0.5}}]\n",
         "vary prune must be a non-empty list"),
        ("model: lenet-5\nrecipes: [{steps: [prune], vary: {prune: [0.5, 2]}}]\n",
         "prune: sparsity"),
    ],
)  # fmt: skip
def test_a_bad_grid_is_one_line_and_exit_2(tmp_path: Path, text: str, message: str):
    grid = tmp_path / "grid.yaml"
    grid.write_text(text)
    assert message in one_line_error("compress", "--grid", str(grid))


def test_grid_options_are_checked(tmp_path: Path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("model: lenet-5\nrecipes: [[int8]]\n")
    assert "--workers" in one_line_error("compress", "--grid", str(grid), "--workers", "0")
    assert "takes its MODEL, --quick from the grid file" in one_line_error(
        "compress", "lenet-5", "--grid", str(grid), "--quick"
    )
    assert "measure a --grid" in one_line_error("compress", "lenet-5", "--workers", "2")
    assert "give --dataset" in one_line_error("plan", "resnet18", "--workers", "2")
    assert "grid file not found" in one_line_error("compress", "--grid", str(tmp_path / "no"))
    line = one_line_error("compress", "--grid", str(grid), "--ray-address", "127.0.0.1:9")
    assert "cannot reach the Ray cluster at --ray-address 127.0.0.1:9" in line
    assert "HOST:PORT" in one_line_error("compress", "--grid", str(grid), "--ray-address", "x")


def test_a_grid_with_a_failing_recipe_reports_it_and_exits_3(tmp_path: Path):
    """Winograd needs a 3x3 convolution, which LeNet-5 lacks: that recipe fails twice and is
    named on stderr with its input; the other is measured and shown, in the file's order."""
    grid = tmp_path / "grid.yaml"
    grid.write_text("model: lenet-5\ndense_epochs: 0\nrecipes: [[winograd], [int8]]\n")
    result = CliRunner().invoke(app, ["compress", "--grid", str(grid), "--format", "json"])
    assert result.exit_code == 3, result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith('error: task {"dataset":"mnist10k"')
    assert '"recipe":[{"winograd":{}}]' in errors[0] and "Traceback" not in result.stderr
    recipes = json.loads(result.stdout)["recipes"]
    assert [r["recipe"] for r in recipes] == ["winograd", "int8"]
    assert recipes[0]["result"] is None and "3x3" in recipes[0]["error"]
    assert recipes[1]["error"] is None and recipes[1]["result"]["stages"][-1]["bytes"] > 0
    csv = CliRunner().invoke(app, ["compress", "--grid", str(grid), "--format", "csv"])
    assert csv.exit_code == 3
    rows = csv.stdout.splitlines()
    assert rows[0].startswith("recipe,accuracy,") and rows[1].startswith("winograd,,")


SMALL_GRID = """\
model: lenet-5
dense_epochs: 1
target: eyeriss
recipes:
  - [int8]
  - steps: [prune: {sparsity: 0.5, steps: 1, epochs: 1}]
    vary: {prune.sparsity: [0.6, 0.9]}
  - [winograd]
"""


def grid_json(grid: Path, *options: str) -> tuple[int, str]:
    """`compress --grid` in a process of its own, as a user runs it (Ray keeps its token for
    the process's life: one search a process)."""
    command = [sys.executable, "-m", "edgegap", "compress", "--grid", str(grid), "--format",
               "json", *options]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


@pytest.mark.slow
def test_two_local_ray_workers_give_the_serial_results_byte_for_byte(tmp_path: Path):
    """The same JSON from this process and from a local Ray of 2 workers, the failing
    recipe retried and reported alike (exit 3); a results file the Ray run wrote resumes
    serially to the same output."""
    grid = tmp_path / "grid.yaml"
    grid.write_text(SMALL_GRID)
    serial = grid_json(grid)
    results = tmp_path / "results.jsonl"
    assert grid_json(grid, "--workers", "2", "--results", str(results)) == serial
    assert serial[0] == 3 and len(json.loads(serial[1])["recipes"]) == 4
    assert len(results.read_text().splitlines()) == 3
    assert grid_json(grid, "--results", str(results)) == serial
    assert not list(Path("/tmp").glob("eg-ray-*/session_*"))  # Ray's folder went with it


@pytest.mark.slow
def test_a_cluster_of_two_loopback_nodes_gives_the_serial_results(tmp_path: Path):
    from edgegap.loopback_cluster import loopback_cluster

    grid = tmp_path / "grid.yaml"
    grid.write_text(SMALL_GRID)
    serial = grid_json(grid)
    with loopback_cluster(2) as address:
        assert grid_json(grid, "--ray-address", address) == serial
