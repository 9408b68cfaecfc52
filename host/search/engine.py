"""Run the trials on Ray Tune: in-process Ray on this machine (default), or a Ray cluster (`address`).

Each trial is one Ray Tune trial of a function trainable (host/search/trial.py), holding `cpus_per_trial` CPUs;
Ray runs as many at once as the machine or cluster has CPUs for. The trials are a fixed list (one grid over the
drawn points), so the same seed gives the same trials. ASHA (asynchronous successive halving) stops a trial
whose validation score after some epochs (a quarter of the most, then twice that, ...) is in the bottom half
of the trials that reached that epoch. A trial's last epoch and its final report carry no epoch, so ASHA never
stops a trial that has finished training. ASHA ranks by accuracy alone: a small model that trails at a rung can
be stopped although it might have been on the Pareto front (`--no-early-stop` keeps every trial).

The experiment state lives in <out>/ray: a search stopped with Ctrl-C (Ray Tune saves its state on the first
SIGINT) or by its time budget keeps its finished trials, and `resume` restarts only the unfinished ones.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
from pathlib import Path

from tqdm.auto import tqdm

from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.host.search.space import Trial
from tinyrnn.host.search.trial import Job, run_trial

EXPERIMENT = "ray"                    # <out>/ray: Ray Tune's experiment directory
# Per-epoch score reported to ASHA (validation accuracy, or -loss for regression), and its time axis.
EPOCH_SCORE, EPOCH = "epoch_score", "epoch"


class RayMissing(TinyRNNError):
    pass


def require_ray():
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        raise RayMissing("the search runs on Ray Tune, which is not installed here",
                         "pip install 'tinyrnn[search]'") from None


def trainable(config, job: Job = None):
    """The Ray Tune function trainable: one trial, reporting each epoch and then its measured record."""
    from ray import tune

    trial = Trial(**config["trial"])
    classification = job.inputs.ds.task == "classification"
    last = {EPOCH_SCORE: 0.0}

    def on_epoch(epoch, logs):
        score = logs.get("val_accuracy") if classification else -logs.get("val_loss", float("inf"))
        last[EPOCH_SCORE] = float(score)
        if epoch < trial.epochs:        # a trial that has trained to the end is measured, never stopped
            tune.report({EPOCH: epoch, EPOCH_SCORE: float(score), "phase": "training"})

    # A trial that finished while an interrupted search was saving its state has its record: keep it.
    done = Path(job.trials_dir) / f"{trial.name}.json"
    if done.is_file():
        tune.report({**json.loads(done.read_text()), **last, "phase": "done"})
        return

    # The last report carries the last epoch's score (Ray Tune wants the scheduler's metric in every result)
    # but no EPOCH, so ASHA leaves it alone.
    try:
        record = run_trial(trial, job, on_epoch)
    except TinyRNNError as exc:          # a configuration the kernel or the data cannot take: a reported trial
        tune.report({**last, "phase": "done", "status": "error", "error": str(exc)})
        return
    tune.report({**record, **last, "phase": "done"})


class _Progress:
    """A line per finished trial and an overall bar (a ray.tune.Callback, built lazily: Ray is an extra)."""

    @staticmethod
    def make(total: int, done: set, quiet: bool, format_line):
        """`done`: the indices of the trials a resumed search finished before; they get no second line, nor does a
        trial Ray Tune reports twice (a resumed experiment can)."""
        from ray import tune

        printed = set(done)

        class Progress(tune.Callback):
            def __init__(self):
                self.bar = None

            def __getstate__(self):          # Ray Tune saves its callbacks with the experiment: not the bar
                return {"bar": None}

            def setup(self, **info):
                self._bar()

            def _bar(self):
                if self.bar is None:
                    self.bar = tqdm(total=total, initial=len(done), unit="trial", desc="search", disable=quiet,
                                    dynamic_ncols=True)
                return self.bar

            def _line(self, trial, error=None):
                index = trial.config["trial"]["index"]
                if index in printed:
                    return
                printed.add(index)
                result = dict(trial.last_result or {})
                if error is not None:
                    result = {"status": "error", "error": str(error).strip().splitlines()[-1][:200]}
                if not quiet:
                    self._bar().write(format_line(trial.config["trial"], result))
                self._bar().update(1)

            def on_trial_complete(self, iteration, trials, trial, **info):
                self._line(trial)

            def on_trial_error(self, iteration, trials, trial, **info):
                self._line(trial, error=trial.error_file and _read_error(trial.error_file) or "failed")

            def on_experiment_end(self, trials, **info):
                if self.bar is not None:
                    self.bar.close()

        return Progress()


def _read_error(path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return "failed (no error file)"


CLUSTER_FIX = ("start it with `ray start --head --port=PORT` (and workers with `ray start --address=HEAD:PORT`); "
               "with token authentication (Ray's default) set RAY_AUTH_MODE=token and the cluster's RAY_AUTH_TOKEN "
               "here; or drop --address to run on this machine")
CONNECT_TIMEOUT_S = 5.0


def check_address(address: str) -> None:
    """A one-line refusal, at once, when nothing listens at HOST:PORT (Ray itself retries for minutes)."""
    if address == "auto":                         # Ray finds the cluster `ray start` left on this machine
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"--address {address!r} is not HOST:PORT", "give the Ray head's address, e.g. 10.0.0.1:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"cannot reach the Ray cluster at {address}: {reason}", CLUSTER_FIX) from None


def start_ray(address: str | None, cpus: int | None, cpus_per_trial: int):
    """Start Ray here, or connect to the cluster at `address`; a cluster that cannot be reached is a UserError."""
    import ray

    if address:
        check_address(address)

    env = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTRAOP_THREADS": str(cpus_per_trial),
                        "TF_NUM_INTEROP_THREADS": "1", "TF_ENABLE_ONEDNN_OPTS": "0"}}
    common = dict(runtime_env=env, log_to_driver=False, configure_logging=True, logging_level=logging.WARNING)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # A trial stopped before its first report has no result files: expected here, reported by the search itself.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    try:
        if address:
            ray.init(address=address, **common)
        else:
            # "local": a Ray of our own, never one that `ray start` left running on this machine.
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **common)
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {str(exc).splitlines()[0]}",
                        CLUSTER_FIX) from None
    except RuntimeError as exc:
        if not str(exc).startswith("Version mismatch"):
            raise
        # Ray refuses a driver whose Ray or Python version differs from the cluster's: say which, in one line.
        found = re.findall(r"Ray: (\S+)\s+Python: (\S+)", str(exc))
        versions = (f"cluster Ray {found[0][0]}, Python {found[0][1]}; here Ray {found[1][0]}, Python {found[1][1]}"
                    if len(found) == 2 else str(exc).splitlines()[0])
        raise UserError(f"the Ray cluster at {address} runs other versions than this machine ({versions})",
                        "install the same Ray and Python version here as on the cluster's nodes") from None
    return ray


def run(trials: list[Trial], job: Job, out: Path, *, address=None, cpus=None, cpus_per_trial=1,
        time_budget=None, early_stop=True, resume=False, done_before=(), quiet=False, format_line=None) -> dict:
    """Run (or resume) the trials. Returns {trial index: Ray's last result}, {index: status}.

    Ray is started here unless the caller started it (start_ray) before making `out`; either way it is shut down
    at the end. `resume` restores Ray Tune's state from <out>/ray, or, when a search stopped before Ray Tune
    saved any (e.g. it could not start), runs the trials afresh: those already finished keep their records."""
    require_ray()
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    out = out.resolve()
    max_epochs = max(t.epochs for t in trials)
    if not ray.is_initialized():
        start_ray(address, cpus, cpus_per_trial)
    try:
        fn = tune.with_resources(tune.with_parameters(trainable, job=job), {"cpu": cpus_per_trial})
        progress = _Progress.make(len(trials), set(done_before), quiet, format_line or (lambda c, r: str(r)))
        if resume and has_state(out):
            tuner = tune.Tuner.restore(str(out / EXPERIMENT), trainable=fn, resume_unfinished=True,
                                       resume_errored=False, restart_errored=True)
            # Callbacks are not part of the saved state: give the progress display again.
            tuner._local_tuner._run_config.callbacks = [progress]
        else:
            # max_t past the last epoch: ASHA never stops a trial at its final epoch, before it is measured.
            asha = ASHAScheduler(time_attr=EPOCH, metric=EPOCH_SCORE, mode="max", max_t=max_epochs + 1,
                                 grace_period=max(1, max_epochs // 4), reduction_factor=2) if early_stop else None
            tuner = tune.Tuner(
                fn,
                param_space={"trial": tune.grid_search([t.as_dict() for t in trials])},
                tune_config=tune.TuneConfig(scheduler=asha, num_samples=1, time_budget_s=time_budget,
                                            reuse_actors=True,   # one TensorFlow import per worker, not per trial
                                            trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
                run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(out), verbose=0, callbacks=[progress],
                                          failure_config=tune.FailureConfig(max_failures=0)),
            )
        grid = tuner.fit()
        last, status = {}, {}
        for trial in grid._experiment_analysis.trials:
            index = trial.config["trial"]["index"]
            last[index] = dict(trial.last_result or {})
            status[index] = trial.status
            if trial.status == "ERROR":
                last[index].update(status="error", error=_read_error(trial.error_file).strip().splitlines()[-1]
                                   if trial.error_file else "failed")
        return {"last": last, "status": status}
    finally:
        ray.shutdown()


def has_state(out: Path) -> bool:
    """Whether Ray Tune saved an experiment in <out>/ray that it can resume."""
    from ray import tune

    return (out / EXPERIMENT).is_dir() and tune.Tuner.can_restore(str(out / EXPERIMENT))


def _trial_name(trial) -> str:
    return Trial(**trial.config["trial"]).name
