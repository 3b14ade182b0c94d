"""JobRunner and JobLauncher on both databases: flows, restart rules, stops around step
boundaries, listeners and exit codes, parameters, logging context."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from batch_engine_support import ListWriter, NumberReader, OutTable, TableWriter
from jobop.batch import (
    END,
    FAIL,
    ChunkContext,
    ChunkStep,
    DefaultJobParametersValidator,
    Job,
    JobExecutionListener,
    JobLauncher,
    JobRunner,
    RepeatStatus,
    RunIdIncrementer,
    StepContribution,
    StepExecutionListener,
    StopSignal,
    TaskletStep,
    end,
    fail,
    next_parameters,
    step_scope,
)
from jobop.batch.owner import OWNER_KEY
from jobop.domain import (
    BatchStatus,
    ExitStatus,
    InvalidJobParameters,
    JobExecution,
    JobInstanceAlreadyComplete,
    JobParameters,
    JobParametersNotFound,
    JobRestartNotAllowed,
    StepExecution,
)
from jobop.repository import JobRepository
from sqlalchemy import text


class Recorder:
    """Tasklets that record which steps ran, each ending as its parameter says."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def step(self, name: str, **options: Any) -> TaskletStep:
        def tasklet(contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
            self.ran.append(name)
            outcome = context.job_parameters.string(name, "ok")
            if outcome == "fail" or (outcome == "failonce" and self.ran.count(name) == 1):
                raise RuntimeError(f"{name} fails")
            if outcome not in ("ok", "fail", "failonce"):
                contribution.exit_status = ExitStatus(outcome)
            return RepeatStatus.FINISHED

        return TaskletStep(name, tasklet, **options)


def statuses(execution: JobExecution) -> dict[str, str]:
    return {s.step_name: s.status.value for s in execution.step_executions}


# -- flows ---------------------------------------------------------------------------------


def test_sequential_steps_stop_at_the_first_failure(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job("seq", [recorder.step("a"), recorder.step("b"), recorder.step("c")])
    execution = launcher.launch(job, JobParameters.of(b="fail"))
    assert execution.status is BatchStatus.FAILED
    assert execution.exit_status.exit_code == "FAILED"
    assert "RuntimeError: b fails" in execution.exit_status.exit_description
    assert recorder.ran == ["a", "b"]
    assert statuses(execution) == {"a": "COMPLETED", "b": "FAILED"}


def test_a_failed_job_restarts_at_the_failed_step(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job("restart", [recorder.step("a"), recorder.step("b"), recorder.step("c")])
    params = JobParameters.of(b="failonce")
    assert launcher.launch(job, params).status is BatchStatus.FAILED
    second = launcher.launch(job, params)
    assert second.status is BatchStatus.COMPLETED
    assert recorder.ran == ["a", "b", "b", "c"]
    assert statuses(second) == {"b": "COMPLETED", "c": "COMPLETED"}


def test_conditional_transition_on_failed(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job(
        "conditional",
        [recorder.step("a"), recorder.step("b"), recorder.step("x")],
        transitions={"a": {"FAILED": "x", "*": "b"}, "x": {"*": END}, "b": {"*": END}},
    )
    failed_path = launcher.launch(job, JobParameters.of(a="fail"))
    assert failed_path.status is BatchStatus.COMPLETED
    assert failed_path.exit_status.exit_code == "COMPLETED"
    assert recorder.ran == ["a", "x"]
    recorder.ran.clear()
    ok_path = launcher.launch(job, JobParameters.of(a="ok"))
    assert ok_path.status is BatchStatus.COMPLETED
    assert recorder.ran == ["a", "b"]


def test_most_specific_pattern_wins_and_question_mark_matches_one_character(
    launcher: JobLauncher,
) -> None:
    recorder = Recorder()
    job = Job(
        "patterns",
        [recorder.step("a"), recorder.step("one"), recorder.step("many"), recorder.step("exact")],
        transitions={
            "a": {"*": "many", "CODE?": "one", "CODE1": "exact"},
            "one": {"*": END},
            "many": {"*": END},
            "exact": {"*": END},
        },
    )
    for code, expected in (("CODE1", "exact"), ("CODE2", "one"), ("CODE22", "many")):
        recorder.ran.clear()
        launcher.launch(job, JobParameters.of(a=code))
        assert recorder.ran == ["a", expected]


def test_fail_and_end_targets_with_custom_codes(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job(
        "targets",
        [recorder.step("a")],
        transitions={"a": {"COMPLETED": end("DONE EARLY"), "FAILED": fail("BROKEN"), "*": FAIL}},
    )
    done = launcher.launch(job, JobParameters.of(a="ok"))
    assert (done.status, done.exit_status.exit_code) == (BatchStatus.COMPLETED, "DONE EARLY")
    broken = launcher.launch(job, JobParameters.of(a="fail"))
    assert (broken.status, broken.exit_status.exit_code) == (BatchStatus.FAILED, "BROKEN")
    assert "RuntimeError: a fails" in broken.exit_status.exit_description
    other = launcher.launch(job, JobParameters.of(a="ODD"))
    assert (other.status, other.exit_status.exit_code) == (BatchStatus.FAILED, "FAILED")


def test_no_matching_transition_fails_the_job(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job("nomatch", [recorder.step("a")], transitions={"a": {"COMPLETED": END}})
    execution = launcher.launch(job, JobParameters.of(a="fail"))
    assert execution.status is BatchStatus.FAILED
    assert "FlowExecutionError" in execution.exit_status.exit_description
    assert "exit code 'FAILED'" in execution.exit_status.exit_description


def test_a_flow_may_loop_back_to_a_step(launcher: JobLauncher) -> None:
    loops = {"count": 0}

    def again(contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        loops["count"] += 1
        if loops["count"] < 3:
            contribution.exit_status = ExitStatus("AGAIN")
        return RepeatStatus.FINISHED

    job = Job(
        "loop", [TaskletStep("again", again)], transitions={"again": {"AGAIN": "again", "*": END}}
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert [s.step_name for s in execution.step_executions] == ["again"] * 3


def test_job_definition_errors() -> None:
    recorder = Recorder()
    a = recorder.step("a")
    with pytest.raises(ValueError, match="no steps"):
        Job("empty", [])
    with pytest.raises(ValueError, match="same name"):
        Job("twice", [a, recorder.step("a")])
    with pytest.raises(ValueError, match="unknown step 'nope'"):
        Job("unknown", [a], transitions={"a": {"*": "nope"}})
    with pytest.raises(ValueError, match="from unknown step"):
        Job("unknown", [a], transitions={"nope": {"*": END}})
    with pytest.raises(ValueError, match="must not be empty"):
        Job("empty", [a], transitions={"a": {"": END}})
    with pytest.raises(TypeError, match="step name or an End"):
        Job("badtarget", [a], transitions={"a": {"*": 3}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="job name"):
        Job("", [a])
    with pytest.raises(ValueError, match="step name"):
        TaskletStep("x" * 101, lambda c, k: None)
    with pytest.raises(ValueError, match="start_limit"):
        TaskletStep("s", lambda c, k: None, start_limit=0)
    with pytest.raises(TypeError, match="tasklet"):
        TaskletStep("s", "not callable")  # type: ignore[arg-type]


# -- restart rules -------------------------------------------------------------------------


def test_completed_steps_are_skipped_unless_allowed_to_start_again(
    launcher: JobLauncher,
) -> None:
    recorder = Recorder()
    job = Job(
        "skipcomplete",
        [
            recorder.step("a"),
            recorder.step("again", allow_start_if_complete=True),
            recorder.step("c"),
        ],
    )
    params = JobParameters.of(c="failonce")
    assert launcher.launch(job, params).status is BatchStatus.FAILED
    second = launcher.launch(job, params)
    assert second.status is BatchStatus.COMPLETED
    assert recorder.ran == ["a", "again", "c", "again", "c"]


def test_start_limit_fails_the_job(launcher: JobLauncher, repository: JobRepository) -> None:
    recorder = Recorder()
    job = Job("limited", [recorder.step("a"), recorder.step("b", start_limit=2)])
    params = JobParameters.of(b="fail")
    assert launcher.launch(job, params).status is BatchStatus.FAILED
    assert launcher.launch(job, params).status is BatchStatus.FAILED
    third = launcher.launch(job, params)
    assert third.status is BatchStatus.FAILED
    assert "StartLimitExceeded" in third.exit_status.exit_description
    assert "Maximum start limit exceeded for step: b" in third.exit_status.exit_description
    assert recorder.ran == ["a", "b", "b"]
    assert third.step_executions == []


def test_an_abandoned_step_is_skipped(launcher: JobLauncher, repository: JobRepository) -> None:
    recorder = Recorder()
    job = Job("abandonstep", [recorder.step("a"), recorder.step("b")])
    params = JobParameters.of(a="fail")
    first = launcher.launch(job, params)
    assert first.status is BatchStatus.FAILED
    # The Spring way to skip a step on restart: mark its execution ABANDONED by hand.
    with repository.engine.begin() as connection:
        connection.execute(
            text("UPDATE BATCH_STEP_EXECUTION SET STATUS = 'ABANDONED' WHERE STEP_NAME = 'a'")
        )
    second = launcher.launch(job, params)
    assert second.status is BatchStatus.COMPLETED
    assert recorder.ran == ["a", "b"]


def test_no_step_run_is_a_noop(launcher: JobLauncher, repository: JobRepository) -> None:
    recorder = Recorder()
    job = Job("noop", [recorder.step("a")])
    params = JobParameters.of(a="fail")
    assert launcher.launch(job, params).status is BatchStatus.FAILED
    with repository.engine.begin() as connection:
        connection.execute(text("UPDATE BATCH_STEP_EXECUTION SET STATUS = 'ABANDONED'"))
    second = launcher.launch(job, params)
    assert second.status is BatchStatus.COMPLETED
    assert second.exit_status.exit_code == "NOOP"
    assert "All steps already completed" in second.exit_status.exit_description


def test_a_step_in_unknown_status_cannot_restart(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    recorder = Recorder()
    job = Job("unknownstep", [recorder.step("a")])
    params = JobParameters.of(a="fail")
    launcher.launch(job, params)
    with repository.engine.begin() as connection:
        connection.execute(text("UPDATE BATCH_STEP_EXECUTION SET STATUS = 'UNKNOWN'"))
    second = launcher.launch(job, params)
    assert second.status is BatchStatus.FAILED
    assert "Cannot restart step [a] from UNKNOWN status" in second.exit_status.exit_description
    assert recorder.ran == ["a"]


def test_a_non_restartable_job_is_refused_a_second_execution(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job("once", [recorder.step("a")], restartable=False)
    params = JobParameters.of(a="fail")
    assert launcher.launch(job, params).status is BatchStatus.FAILED
    with pytest.raises(JobRestartNotAllowed):
        launcher.launch(job, params)


def test_a_completed_instance_is_refused(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job("done", [recorder.step("a")])
    launcher.launch(job)
    with pytest.raises(JobInstanceAlreadyComplete):
        launcher.launch(job)


# -- stops around steps --------------------------------------------------------------------


class StopAfterStep(StepExecutionListener):
    def __init__(self, repository: JobRepository) -> None:
        self.repository = repository

    def after_step(self, step_execution: StepExecution) -> None:
        # Arrives after the step's last chunk, before its final update.
        self.repository.request_stop(step_execution.job_execution_id)


def test_a_stop_between_steps_stops_the_job_before_the_next(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    recorder = Recorder()
    first_step = recorder.step("a", listeners=[StopAfterStep(repository)])
    job = Job("between", [first_step, recorder.step("b")])
    first = launcher.launch(job)
    assert first.status is BatchStatus.STOPPED
    assert first.exit_status.exit_code == "STOPPED"
    assert statuses(first) == {"a": "COMPLETED"}
    assert repository.get_job_status(first.id) is BatchStatus.STOPPED
    first_step.listeners = ()
    second = launcher.launch(job)
    assert second.status is BatchStatus.COMPLETED
    assert recorder.ran == ["a", "b"]


def test_a_stop_after_the_last_step_does_not_leave_the_job_stopping(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    recorder = Recorder()
    job = Job("late", [recorder.step("a", listeners=[StopAfterStep(repository)])])
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert repository.get_job_status(execution.id) is BatchStatus.COMPLETED


def test_an_execution_stopped_before_it_started_is_not_run(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    recorder = Recorder()
    job = Job("early", [recorder.step("a")])
    execution = launcher.create_execution(job, JobParameters())
    repository.request_stop(execution.id)  # STARTING -> STOPPED
    result = launcher.runner.run(job, execution)
    assert result.status is BatchStatus.STOPPED
    assert recorder.ran == []


def test_a_stop_signal_set_before_start_stops_at_once(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    recorder = Recorder()
    job = Job("signalled", [recorder.step("a")])
    signal = StopSignal()
    signal.set()
    execution = launcher.launch(job, stop_signal=signal)
    assert execution.status is BatchStatus.STOPPED
    assert execution.exit_status.exit_code == "STOPPED"
    assert recorder.ran == []
    assert repository.get_job_status(execution.id) is BatchStatus.STOPPED


def test_only_a_starting_execution_runs(launcher: JobLauncher) -> None:
    recorder = Recorder()
    job = Job("twice", [recorder.step("a")])
    execution = launcher.launch(job)
    with pytest.raises(ValueError, match="not STARTING"):
        launcher.runner.run(job, execution)


# -- listeners and exit codes --------------------------------------------------------------


def test_listeners_replace_exit_codes(launcher: JobLauncher) -> None:
    class StepCode(StepExecutionListener):
        def after_step(self, step_execution: StepExecution) -> ExitStatus:
            return ExitStatus("CUSTOM STEP FAILED")

    class JobCode(JobExecutionListener):
        def __init__(self) -> None:
            self.before: list[BatchStatus] = []

        def before_job(self, job_execution: JobExecution) -> None:
            self.before.append(job_execution.status)

        def after_job(self, job_execution: JobExecution) -> None:
            job_execution.exit_status = ExitStatus("CUSTOM FAILED")

    recorder = Recorder()
    job_listener = JobCode()
    job = Job("codes", [recorder.step("a", listeners=[StepCode()])], listeners=[job_listener])
    execution = launcher.launch(job, JobParameters.of(a="fail"))
    assert execution.status is BatchStatus.FAILED
    assert execution.step_executions[0].exit_status.exit_code == "CUSTOM STEP FAILED"
    assert execution.exit_status.exit_code == "CUSTOM FAILED"
    assert job_listener.before == [BatchStatus.STARTED]


def test_a_listener_cannot_hide_a_failure_behind_completed(launcher: JobLauncher) -> None:
    class Optimist(StepExecutionListener):
        def after_step(self, step_execution: StepExecution) -> ExitStatus:
            return ExitStatus.COMPLETED  # and_ keeps the more severe FAILED

    recorder = Recorder()
    job = Job("optimist", [recorder.step("a", listeners=[Optimist()])])
    execution = launcher.launch(job, JobParameters.of(a="fail"))
    assert execution.exit_status.exit_code == "FAILED"


def test_failing_listeners(launcher: JobLauncher) -> None:
    class BrokenBefore(JobExecutionListener):
        def before_job(self, job_execution: JobExecution) -> None:
            raise RuntimeError("before_job broke")

    class BrokenAfter(JobExecutionListener, StepExecutionListener):
        def after_job(self, job_execution: JobExecution) -> None:
            raise RuntimeError("after_job broke")

        def after_step(self, step_execution: StepExecution) -> None:
            raise RuntimeError("after_step broke")

    recorder = Recorder()
    broken_start = Job("brokenstart", [recorder.step("a")], listeners=[BrokenBefore()])
    execution = launcher.launch(broken_start)
    assert execution.status is BatchStatus.FAILED
    assert "before_job broke" in execution.exit_status.exit_description
    assert recorder.ran == []
    # Errors after the fact are logged, not fatal.
    after = BrokenAfter()
    broken_end = Job("brokenend", [recorder.step("a", listeners=[after])], listeners=[after])
    assert launcher.launch(broken_end).status is BatchStatus.COMPLETED


def test_the_job_context_is_saved_with_the_owner(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    class Remember(JobExecutionListener):
        def before_job(self, job_execution: JobExecution) -> None:
            job_execution.execution_context["remembered"] = job_execution.id

    recorder = Recorder()
    job = Job("context", [recorder.step("a")], listeners=[Remember()])
    execution = launcher.launch(job)
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    assert saved.execution_context["remembered"] == execution.id
    assert saved.execution_context[OWNER_KEY] == launcher.runner.owner


# -- parameters ----------------------------------------------------------------------------


def test_the_validator_refuses_bad_parameters_before_an_execution_exists(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    recorder = Recorder()
    job = Job(
        "validated",
        [recorder.step("a")],
        validator=DefaultJobParametersValidator(required=["day"], optional=["a"]),
    )
    with pytest.raises(InvalidJobParameters, match="missing required parameters: day"):
        launcher.launch(job, JobParameters.of(a="ok"))
    with pytest.raises(InvalidJobParameters, match="unknown parameters: zzz"):
        launcher.launch(job, JobParameters.of(day="mon", zzz=1))
    assert repository.explorer.get_job_instance_count("validated") == 0
    assert launcher.launch(job, JobParameters.of(day="mon")).status is BatchStatus.COMPLETED


def test_the_runner_validates_too(launcher: JobLauncher, repository: JobRepository) -> None:
    def must_have_day(parameters: JobParameters) -> None:
        if "day" not in parameters:
            raise ValueError("day is missing")

    recorder = Recorder()
    job = Job("validatedrun", [recorder.step("a")], validator=must_have_day)
    # An execution created without the launcher (as by another process's operator).
    execution = repository.create_job_execution(job.name, JobParameters())
    result = launcher.runner.run(job, execution)
    assert result.status is BatchStatus.FAILED
    assert "InvalidJobParameters: day is missing" in result.exit_status.exit_description
    assert recorder.ran == []


def test_validator_definition_errors() -> None:
    with pytest.raises(ValueError, match="both required and optional"):
        DefaultJobParametersValidator(required=["a"], optional=["a"])


def test_next_parameters_increment_run_id(launcher: JobLauncher, repository: JobRepository) -> None:
    recorder = Recorder()
    job = Job("nexted", [recorder.step("a")], incrementer=RunIdIncrementer())
    first = next_parameters(job, repository.explorer)
    assert first == JobParameters.of(**{"run.id": 1})
    launcher.launch(job, first.merged(JobParameters.of(extra="x")))
    second = launcher.next_parameters(job, JobParameters.of(more="y"))
    assert second["run.id"].value == 2
    assert second["extra"].value == "x"  # carried over from the last instance
    assert second["more"].value == "y"
    with pytest.raises(JobParametersNotFound):
        next_parameters(Job("plain", [recorder.step("a")]), repository.explorer)


def test_run_id_incrementer_rules() -> None:
    incrementer = RunIdIncrementer("id")
    assert incrementer.get_next(None)["id"].value == 1
    assert incrementer.get_next(JobParameters.parse(["id=41"]))["id"].value == 42
    with pytest.raises(InvalidJobParameters, match="not a number"):
        incrementer.get_next(JobParameters.parse(["id=x"]))


# -- logging -------------------------------------------------------------------------------


def test_every_record_carries_job_execution_and_step(
    launcher: JobLauncher, caplog: pytest.LogCaptureFixture
) -> None:
    user_log = logging.getLogger("user.code")

    def tasklet(contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        user_log.info("working")
        return RepeatStatus.FINISHED

    job = Job("logged", [TaskletStep("loggedStep", tasklet)])
    with caplog.at_level(logging.INFO):
        execution = launcher.launch(job)
    working = [r for r in caplog.records if r.getMessage() == "working"]
    assert [(r.job_name, r.job_execution_id, r.step_name) for r in working] == [  # type: ignore[attr-defined]
        ("logged", execution.id, "loggedStep")
    ]
    messages = [r.getMessage() for r in caplog.records if r.name == "jobop.batch.runner"]
    assert any("launched" in m for m in messages)
    assert any("status: [COMPLETED] and exit code [COMPLETED]" in m for m in messages)
    outside = logging.getLogger("user.code").makeRecord("x", logging.INFO, "f", 1, "m", (), None)
    assert outside.job_name is None  # type: ignore[attr-defined]


def test_chunk_step_writes_with_a_step_scoped_reader(launcher: JobLauncher, out: OutTable) -> None:
    job = Job(
        "scoped",
        [
            ChunkStep(
                "s",
                reader=step_scope(lambda ctx: NumberReader(ctx.job_parameters.long("n"))),
                writer=TableWriter(),
            )
        ],
    )
    launcher.launch(job, JobParameters.of(n=3))
    assert out.items() == [1, 2, 3]


def test_runner_tracks_running_executions(repository: JobRepository, runner: JobRunner) -> None:
    seen: list[list[int]] = []

    def tasklet(contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        seen.append(runner.running_execution_ids())
        return RepeatStatus.FINISHED

    job = Job("tracked", [TaskletStep("t", tasklet)])
    execution = repository.create_job_execution(job.name, JobParameters())
    runner.run(job, execution)
    assert seen == [[execution.id]]
    assert runner.running_execution_ids() == []
    assert runner.request_stop_all() == []


def test_a_list_writer_job(launcher: JobLauncher) -> None:
    writer = ListWriter()
    job = Job("listed", [ChunkStep("s", reader=NumberReader(3), writer=writer)])
    launcher.launch(job)
    assert writer.items == [1, 2, 3]


def test_a_keyboard_interrupt_is_saved_as_failed_then_propagates(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    def interrupted(contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        raise KeyboardInterrupt

    job = Job("interrupted", [TaskletStep("t", interrupted)])
    with pytest.raises(KeyboardInterrupt):
        launcher.launch(job)
    instance = repository.explorer.get_last_job_instance("interrupted")
    assert instance is not None
    saved = repository.explorer.get_last_job_execution(instance)
    assert saved is not None
    assert saved.status is BatchStatus.FAILED
    assert [s.status for s in saved.step_executions] == [BatchStatus.FAILED]
    assert "KeyboardInterrupt" in saved.exit_status.exit_description


def test_secret_looking_parameters_are_masked_in_the_runners_log(
    launcher: JobLauncher, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job("secretive", [TaskletStep("only", lambda contribution, context: None)])
    parameters = JobParameters.of(dbPassword="hunter2", apiKey="k-123", region="eu")
    with caplog.at_level(logging.INFO):
        launcher.launch(job, parameters)
    lines = [r.getMessage() for r in caplog.records if r.name == "jobop.batch.runner"]
    assert len([line for line in lines if "parameters" in line]) == 2  # launched, completed
    text = "\n".join(lines)
    assert "hunter2" not in text and "k-123" not in text
    assert "'dbPassword':'{value=***, type=class java.lang.String, identifying=true}'" in text
    assert "value=eu" in text  # others as Spring prints them
