"""The run of ``evoforge merge``: a merge job's weight search in a run directory of its own, new or resumed. The
command parses its flags, builds the job (or names the run to resume), opens the run and prints what this returns."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.database import database_ref
from evoforge.merging.job import MergeJob, run_job
from evoforge.merging.search import study_location
from evoforge.runs import RunDir

if TYPE_CHECKING:
    from evoforge.settings import RunSettings


def saved_job(folder: Path) -> MergeJob:
    """The merge job that :func:`~evoforge.merging.job.run_job` saved in ``folder/merge/job.json`` (a merge run's
    directory, or a cycle round's)."""
    return MergeJob.model_validate_json((folder / "merge" / "job.json").read_text(encoding="utf-8"))


def resumed(runs_dir: Path, run_id: str) -> tuple[MergeJob, RunDir]:
    """The job and the run directory of the merge run ``run_id``, marked running again."""
    run = RunDir.open(runs_dir, run_id)
    job = saved_job(run.path)
    run.update_manifest(status="running", ended=None)
    return job, run


def merge_run(job: MergeJob, run: RunDir, updates: dict[str, Any], settings: RunSettings) -> dict[str, Any]:
    """Search ``job``'s merge weights in ``run`` with the merge settings ``updates`` replaces; a new search keeps its
    study in ``merge.storage``, else the run-state database of ``settings`` (the ``run`` section), else SQLite in
    ``merge/``; a resumed one where it was. Returns the search's results once the run is completed."""
    job.settings = type(job.settings).model_validate(job.settings.model_dump() | updates)
    if not job.storage:  # a new search (a resumed one keeps its study where it is)
        where = (database_ref(settings), run.path / "merge", job.settings.workers, f"{run.run_id}/merge")
        job.storage, job.study_name = study_location(*where, storage=job.settings.storage)
    with run.recording(interrupted_hint=f"continue with: evoforge merge --resume {run.run_id}"):
        results = run_job(job, run)
    run.finish("completed", best_score=results["best"]["score"])
    return results
