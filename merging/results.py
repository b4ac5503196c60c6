"""What a merge search leaves in the run directory.

- ``merge/results.json``: reference scores, every trial (label, score, merge, timing), the best merge.
- ``merge/report.md`` (also the ``merge`` section of the run's ``report.md``): AutoLLM's two tables — the
  score of raw, train@all, train@delta_i, average_merge, human_merge, auto_merge; and the weights of each merge.
- ``merge/history.png``: the optimisation history (score per trial and best so far).
- ``merge/best_adapter/``: the best merge as a PEFT adapter (linear merges of LoRA deltas);
  ``merge/best_model/``: as a full model directory (``merge.save_full``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evoforge.merging.search import SearchSpace, TrialRunner, completed
from evoforge.merging.trial import MergeSpec

if TYPE_CHECKING:
    import optuna

    from evoforge.merging.job import MergeJob
    from evoforge.runs import RunDir


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
    from evoforge.report import markdown_table

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


def write_outputs(
    run: RunDir, job: MergeJob, study: optuna.Study, runner: TrialRunner, refs: dict[str, float]
) -> dict[str, Any]:
    """Write results.json, report.md (+ the run report's section), history.png and the best merge."""
    from evoforge.errors import ConfigError
    from evoforge.merging.export import save_cat_adapter, save_full_model
    from evoforge.merging.methods import get_method
    from evoforge.report import line_chart, write_section
    from evoforge.runs import atomic_write_json, atomic_write_text

    space = job.space()
    rows = trial_rows(study, space)
    if not rows:
        raise ConfigError("the study has no completed trial")
    labelled = {r["label"]: r for r in rows if r["label"]}
    best = (
        max(rows, key=lambda r: r["score"])
        if job.settings.direction == "maximize"
        else min(rows, key=lambda r: r["score"])
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
    results: dict[str, Any] = {
        "metric": job.metric,
        "direction": job.settings.direction,
        "sampler": job.settings.sampler,
        "n_trials": len(rows),
        "deltas": {n: str(p) for n, p in job.adapters.items()},
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
    spec = MergeSpec(**best["merge"])
    groups = job.settings.per_layer_groups
    chosen = [d for d in runner.deltas if d.name in spec.weights]
    if (
        all(d.kind == "lora" for d in chosen)
        and get_method(spec.method, **spec.params).linear
        and any(any(w) for w in spec.weights.values())
    ):
        results["best_adapter"] = str(save_cat_adapter(chosen, spec, run.file("merge", "best_adapter"), groups))
    if job.settings.save_full:
        out = run.file("merge", "best_model")
        results["best_model"] = str(save_full_model(job.base, chosen, spec, out, groups, job.seed))
    best_so_far: list[float] = []
    for r in rows:
        pick = max if job.settings.direction == "maximize" else min
        best_so_far.append(r["score"] if not best_so_far else pick(best_so_far[-1], r["score"]))
    line_chart(
        run.file("merge", "history.png"),
        {"trial score": [r["score"] for r in rows], "best so far": best_so_far},
        "Merge-weight search",
        "trial",
        job.metric,
    )
    markdown = report_markdown(results, list(job.adapters))
    atomic_write_json(run.file("merge", "results.json"), results)
    atomic_write_text(run.file("merge", "report.md"), markdown + "\n")
    write_section(run.file("report.md"), "merge", markdown.replace("(history.png)", "(merge/history.png)"))
    return results
