"""What a merge search leaves in the run directory.

- ``merge/results.json``: reference scores, every trial (label, score, merge, timing), the best merge.
- ``merge/report.md`` (also the ``merge`` section of the run's ``report.md``): AutoLLM's two tables — the
  score of raw, train@all, train@delta_i, average_merge, human_merge, auto_merge; and the weights of each merge.
- ``merge/history.png``: the optimisation history (score per trial and best so far).
- ``merge/best_adapter/``: the best merge as a PEFT adapter (linear merges of LoRA deltas);
  ``merge/best_model/``: as a full model directory (``merge.save_full``).

:func:`summarize` turns a finished study into the results (no files); :func:`save_outputs` writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError
from evoforge.merging.methods import get_method
from evoforge.merging.saving import save_cat_adapter, save_full_model
from evoforge.merging.search import SearchSpace, completed
from evoforge.merging.trial import MergeSpec
from evoforge.report import line_chart, markdown_table, write_section
from evoforge.runs import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    import optuna

    from evoforge.merging.lora import Delta
    from evoforge.runs import RunDir
    from evoforge.settings import MergeSettings


def trial_rows(study: optuna.Study, space: SearchSpace) -> list[dict[str, Any]]:
    """One JSON-able row per completed trial, in trial order."""
    rows = []
    for t in completed(study):
        spec = space.spec_of(t.params)
        rows.append(
            {
                "number": t.number,
                "label": t.user_attrs.get("label"),
                "score": t.value,
                "merge": spec.to_json(),
                "merge_s": t.user_attrs.get("merge_s"),
                "eval_s": t.user_attrs.get("eval_s"),
            }
        )
    return rows


def _weights_cell(weights: list[float]) -> str:
    return "/".join(f"{w:.3f}" for w in weights)


def report_markdown(results: dict[str, Any], deltas: list[str]) -> str:
    """The merge report: scores table, weights table, timing, and the history chart."""
    scores = [(label, score) for label, score in results["table"].items()]
    weights = []
    for label in ("average_merge", "human_merge", "auto_merge"):
        merge = results["merges"].get(label)
        if merge:
            extra = f"{merge['method']} {merge['params']}" if merge["method"] != "linear" else "linear"
            weights.append([label, *(_weights_cell(merge["weights"][d]) for d in deltas), extra])
    timing = results["timing"]
    best = results["best"]
    lines = [
        "## Merge search",
        "",
        f"{results['n_trials']} trials, sampler `{results['sampler']}`, metric `{results['metric']}` "
        f"({results['direction']}); best trial #{best['number']} ({best['label'] or 'searched'}).",
        "",
        markdown_table(["model", "eval_score"], scores),
        "",
        markdown_table(["model", *(f"{d}_weight" for d in deltas), "method"], weights),
        "",
        f"Mean time per trial: merge {timing['merge_s']:.4f} s, eval {timing['eval_s']:.4f} s "
        f"(merge {timing['merge_share']:.1%} of a trial).",
        "",
        "![optimisation history](history.png)",
    ]
    return "\n".join(lines)


def summarize(
    study: optuna.Study,
    space: SearchSpace,
    refs: dict[str, float],
    settings: MergeSettings,
    metric: str,
    adapters: dict[str, Path],
) -> dict[str, Any]:
    """The results of a finished search (JSON-able): the table of scores (``refs``: raw and train@all, scored
    apart), the merges of the labelled baselines and of the best trial, mean timing, and every trial."""
    rows = trial_rows(study, space)
    if not rows:
        raise ConfigError("the study has no completed trial")
    labelled = {r["label"]: r for r in rows if r["label"]}
    best = (
        max(rows, key=lambda r: r["score"]) if settings.direction == "maximize" else min(rows, key=lambda r: r["score"])
    )
    table = dict(refs)
    table.update({label: r["score"] for label, r in labelled.items()})
    table["auto_merge"] = best["score"]
    merges = {label: labelled[label]["merge"] for label in ("average_merge", "human_merge") if label in labelled}
    merges["auto_merge"] = best["merge"]
    merge_s = [r["merge_s"] for r in rows if r["merge_s"] is not None]
    eval_s = [r["eval_s"] for r in rows if r["eval_s"] is not None]
    mean_merge = sum(merge_s) / max(len(merge_s), 1)
    mean_eval = sum(eval_s) / max(len(eval_s), 1)
    return {
        "metric": metric,
        "direction": settings.direction,
        "sampler": settings.sampler,
        "n_trials": len(rows),
        "deltas": {n: str(p) for n, p in adapters.items()},
        "table": table,
        "merges": merges,
        "best": best,
        "timing": {
            "merge_s": mean_merge,
            "eval_s": mean_eval,
            "merge_share": mean_merge / (mean_merge + mean_eval) if mean_merge + mean_eval else 0.0,
        },
        "trials": rows,
    }


def save_outputs(
    run: RunDir, results: dict[str, Any], deltas: list[Delta], settings: MergeSettings, base: Path, seed: int
) -> None:
    """Export the best merge of ``deltas`` (adding its paths to ``results``), then write results.json, report.md
    (+ the run report's section) and history.png. ``base`` and ``seed``: for the full model (``save_full``)."""
    spec = MergeSpec(**results["best"]["merge"])
    groups = settings.per_layer_groups
    chosen = [d for d in deltas if d.name in spec.weights]
    if (
        all(d.kind == "lora" for d in chosen)
        and get_method(spec.method, **spec.params).linear
        and any(any(w) for w in spec.weights.values())
    ):
        results["best_adapter"] = str(save_cat_adapter(chosen, spec, run.file("merge", "best_adapter"), groups))
    if settings.save_full:
        out = run.file("merge", "best_model")
        results["best_model"] = str(save_full_model(base, chosen, spec, out, groups, seed))
    rows = results["trials"]
    best_so_far: list[float] = []
    for r in rows:
        pick = max if settings.direction == "maximize" else min
        best_so_far.append(r["score"] if not best_so_far else pick(best_so_far[-1], r["score"]))
    line_chart(
        run.file("merge", "history.png"),
        {"trial score": [r["score"] for r in rows], "best so far": best_so_far},
        "Merge-weight search",
        "trial",
        results["metric"],
    )
    markdown = report_markdown(results, list(results["deltas"]))
    atomic_write_json(run.file("merge", "results.json"), results)
    atomic_write_text(run.file("merge", "report.md"), markdown + "\n")
    write_section(run.file("report.md"), "merge", markdown.replace("(history.png)", "(merge/history.png)"))
