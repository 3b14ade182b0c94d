"""JobRegistry: the jobs a process can run, by name, loaded from modules and entry points.

A job module exposes Job objects at top level, or a `JOBS` list naming exactly which ones.
Installed distributions advertise job modules in the `jobop.jobs` entry-point group (an
entry point may also name a Job or a list of Jobs); jobop's bundled samples are one of them.
A module named by `--jobs` is looked up on the Python path, then in the current directory
(docs/jobs.md).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from jobop.domain import NoSuchJob

from .job import Job

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "jobop.jobs"
SAMPLES_MODULE = "jobop_jobs"
GUIDE = "docs/jobs.md"


class JobModuleError(ImportError):
    """A job module that cannot be used: not found, failing on import, or holding no Job.
    Its message is one line saying what was looked up, where, and how to fix it."""


class JobRegistry:
    """Name -> Job. Registering another Job object under a taken name is an error;
    registering the same object again is not (a module may be reached twice)."""

    def __init__(self, jobs: Iterable[Job] = ()) -> None:
        self._jobs: dict[str, Job] = {}
        self._module_names: set[str] = set()
        self._lock = threading.Lock()
        for job in jobs:
            self.register(job)

    @classmethod
    def default(
        cls,
        modules: Iterable[str] = (),
        *,
        entry_points: bool = True,
        samples: bool = True,
    ) -> JobRegistry:
        """The samples, every `jobop.jobs` entry point, then `modules` (e.g. `--jobs`)."""
        registry = cls()
        if entry_points:
            registry.load_entry_points(exclude=() if samples else (SAMPLES_MODULE,))
        if samples and SAMPLES_MODULE not in registry._loaded_modules():
            registry.load_module(SAMPLES_MODULE)
        modules = list(modules)
        if modules:
            _current_directory_on_path()
        for module in modules:
            registry.load_module(module)
        return registry

    def register(self, job: Job) -> None:
        if not isinstance(job, Job):
            raise TypeError(f"not a Job: {job!r}")
        with self._lock:
            existing = self._jobs.get(job.name)
            if existing is not None and existing is not job:
                raise ValueError(f"two different jobs are named {job.name!r}")
            self._jobs[job.name] = job

    def get(self, name: str) -> Job:
        """The job of that name; NoSuchJob if none is registered."""
        with self._lock:
            job = self._jobs.get(name)
        if job is None:
            raise NoSuchJob(f"no job named {name!r} is registered")
        return job

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._jobs)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._jobs

    def __iter__(self) -> Iterator[Job]:
        with self._lock:
            jobs = [self._jobs[name] for name in sorted(self._jobs)]
        return iter(jobs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def load_module(self, module: str | ModuleType, *, origin: str = "--jobs") -> list[Job]:
        """Register the jobs of a module (by dotted name or object); returns them.

        JobModuleError if it cannot be imported or holds no Job.
        """
        if isinstance(module, str):
            module = import_job_module(module)
        jobs = jobs_of(module, origin)
        if not jobs:
            raise JobModuleError(
                f"{origin} {module.__name__}: module {module.__name__!r} "
                f"({getattr(module, '__file__', None) or 'no file'}) imports but defines no "
                "Job: define Job objects at its top level, or list them in JOBS = [...]; "
                f"see {GUIDE}"
            )
        for job in jobs:
            self.register(job)
        with self._lock:
            self._module_names.add(module.__name__)
        return jobs

    def load_entry_points(
        self, group: str = ENTRY_POINT_GROUP, *, exclude: Iterable[str] = ()
    ) -> list[Job]:
        """Register the jobs of every entry point in `group` (but those whose value is in
        `exclude`); a broken entry point is logged and skipped."""
        excluded = set(exclude)
        loaded: list[Job] = []
        for entry_point in entry_points(group=group):
            if entry_point.value in excluded:
                continue
            try:
                target = entry_point.load()
            except Exception:
                # One broken plug-in must not take the others down with it.
                log.exception("Could not load jobs from entry point %s", entry_point.value)
                continue
            if isinstance(target, ModuleType):
                loaded.extend(self.load_module(target, origin=f"entry point {entry_point.name}"))
                continue
            jobs = [target] if isinstance(target, Job) else list(target)
            for job in jobs:
                self.register(job)
            loaded.extend(jobs)
        return loaded

    def _loaded_modules(self) -> set[str]:
        with self._lock:
            return set(self._module_names)


def import_job_module(name: str) -> ModuleType:
    """Import the job module `name`, or JobModuleError saying why not, in one line."""
    if name.endswith(".py") or os.sep in name or "/" in name:
        path = Path(name)
        raise JobModuleError(
            f"--jobs {name}: give a module's name, not a file: --jobs {path.stem}, run from "
            f"{path.parent if str(path.parent) != '.' else 'its directory'} or with that "
            f"directory on PYTHONPATH; see {GUIDE}"
        )
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            searched = "; ".join(entry or "." for entry in sys.path)
            file = name.replace(".", "/") + ".py"
            raise JobModuleError(
                f"--jobs {name}: no module named {error.name!r} on the Python path "
                f"(cwd: {os.getcwd()}; sys.path: {searched}); put {file} in the directory you "
                "run jobop from, set PYTHONPATH to the directory that holds it, or install "
                f"it as a package with a jobop.jobs entry point; see {GUIDE}"
            ) from error
        raise _failed_import(name, error) from error
    except Exception as error:
        raise _failed_import(name, error) from error


def _failed_import(name: str, error: Exception) -> JobModuleError:
    """The error raised while importing the module, where, as one line."""
    where = ""
    if isinstance(error, SyntaxError) and error.filename:
        where = f" at {error.filename}:{error.lineno}"
    else:
        frames = traceback.extract_tb(error.__traceback__)
        # The innermost frame that is not the import machinery's.
        own = [frame for frame in frames if "importlib" not in frame.filename]
        if own:
            where = f" at {own[-1].filename}:{own[-1].lineno}"
    last = traceback.format_exception_only(error)[-1].strip()
    return JobModuleError(
        f"--jobs {name}: importing it failed{where}: {last} (fix the module; see {GUIDE})"
    )


def _current_directory_on_path() -> None:
    """Make modules in the current directory importable by `--jobs`, after everything
    installed (so a file there never shadows a library), as `python -m` would."""
    cwd = os.getcwd()
    if not any(entry in ("", ".", cwd) for entry in sys.path):
        sys.path.append(cwd)


def jobs_of(module: ModuleType, origin: str = "--jobs") -> list[Job]:
    """A module's `JOBS` if it has one, else its top-level Job objects."""
    declared = getattr(module, "JOBS", None)
    if declared is not None:
        jobs = list(declared)
        for job in jobs:
            if not isinstance(job, Job):
                raise JobModuleError(
                    f"{origin} {module.__name__}: {module.__name__}.JOBS holds a non-Job: "
                    f"{job!r}; see {GUIDE}"
                )
        return jobs
    found: list[Job] = []
    for value in vars(module).values():
        if isinstance(value, Job) and all(value is not job for job in found):
            found.append(value)
    return found
