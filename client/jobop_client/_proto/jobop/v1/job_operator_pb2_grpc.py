"""Client and server classes corresponding to protobuf-defined services."""
import grpc
import warnings
from ...jobop.v1 import job_operator_pb2 as jobop_dot_v1_dot_job__operator__pb2
GRPC_GENERATED_VERSION = '1.71.2'
GRPC_VERSION = grpc.__version__
_version_not_supported = False
try:
    from grpc._utilities import first_version_is_lower
    _version_not_supported = first_version_is_lower(GRPC_VERSION, GRPC_GENERATED_VERSION)
except ImportError:
    _version_not_supported = True
if _version_not_supported:
    raise RuntimeError(f'The grpc package installed is at version {GRPC_VERSION},' + f' but the generated code in jobop/v1/job_operator_pb2_grpc.py depends on' + f' grpcio>={GRPC_GENERATED_VERSION}.' + f' Please upgrade your grpc module to grpcio>={GRPC_GENERATED_VERSION}' + f' or downgrade your generated code using grpcio-tools<={GRPC_VERSION}.')

class JobOperatorServiceStub(object):
    """Starts, stops, restarts and follows batch job executions.
    """

    def __init__(self, channel):
        """Constructor.

        Args:
            channel: A grpc.Channel.
        """
        self.Start = channel.unary_unary('/jobop.v1.JobOperatorService/Start', request_serializer=jobop_dot_v1_dot_job__operator__pb2.StartRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.StartResponse.FromString, _registered_method=True)
        self.StartNextInstance = channel.unary_unary('/jobop.v1.JobOperatorService/StartNextInstance', request_serializer=jobop_dot_v1_dot_job__operator__pb2.StartNextInstanceRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.StartNextInstanceResponse.FromString, _registered_method=True)
        self.Stop = channel.unary_unary('/jobop.v1.JobOperatorService/Stop', request_serializer=jobop_dot_v1_dot_job__operator__pb2.StopRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.StopResponse.FromString, _registered_method=True)
        self.Restart = channel.unary_unary('/jobop.v1.JobOperatorService/Restart', request_serializer=jobop_dot_v1_dot_job__operator__pb2.RestartRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.RestartResponse.FromString, _registered_method=True)
        self.Abandon = channel.unary_unary('/jobop.v1.JobOperatorService/Abandon', request_serializer=jobop_dot_v1_dot_job__operator__pb2.AbandonRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.AbandonResponse.FromString, _registered_method=True)
        self.Recover = channel.unary_unary('/jobop.v1.JobOperatorService/Recover', request_serializer=jobop_dot_v1_dot_job__operator__pb2.RecoverRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.RecoverResponse.FromString, _registered_method=True)
        self.GetRunningExecutions = channel.unary_unary('/jobop.v1.JobOperatorService/GetRunningExecutions', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetRunningExecutionsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetRunningExecutionsResponse.FromString, _registered_method=True)
        self.GetSummary = channel.unary_unary('/jobop.v1.JobOperatorService/GetSummary', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetSummaryRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetSummaryResponse.FromString, _registered_method=True)
        self.GetStepExecutionSummaries = channel.unary_unary('/jobop.v1.JobOperatorService/GetStepExecutionSummaries', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetStepExecutionSummariesRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetStepExecutionSummariesResponse.FromString, _registered_method=True)
        self.GetJobNames = channel.unary_unary('/jobop.v1.JobOperatorService/GetJobNames', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetJobNamesRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetJobNamesResponse.FromString, _registered_method=True)
        self.GetParameters = channel.unary_unary('/jobop.v1.JobOperatorService/GetParameters', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetParametersRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetParametersResponse.FromString, _registered_method=True)
        self.GetJobExecution = channel.unary_unary('/jobop.v1.JobOperatorService/GetJobExecution', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetJobExecutionRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetJobExecutionResponse.FromString, _registered_method=True)
        self.ListJobInstances = channel.unary_unary('/jobop.v1.JobOperatorService/ListJobInstances', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ListJobInstancesRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListJobInstancesResponse.FromString, _registered_method=True)
        self.ListJobExecutions = channel.unary_unary('/jobop.v1.JobOperatorService/ListJobExecutions', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ListJobExecutionsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListJobExecutionsResponse.FromString, _registered_method=True)
        self.CountJobExecutions = channel.unary_unary('/jobop.v1.JobOperatorService/CountJobExecutions', request_serializer=jobop_dot_v1_dot_job__operator__pb2.CountJobExecutionsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.CountJobExecutionsResponse.FromString, _registered_method=True)
        self.WatchExecution = channel.unary_stream('/jobop.v1.JobOperatorService/WatchExecution', request_serializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionResponse.FromString, _registered_method=True)
        self.WatchExecutions = channel.unary_stream('/jobop.v1.JobOperatorService/WatchExecutions', request_serializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionsResponse.FromString, _registered_method=True)
        self.ListAuditEvents = channel.unary_unary('/jobop.v1.JobOperatorService/ListAuditEvents', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ListAuditEventsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListAuditEventsResponse.FromString, _registered_method=True)
        self.DescribeJobs = channel.unary_unary('/jobop.v1.JobOperatorService/DescribeJobs', request_serializer=jobop_dot_v1_dot_job__operator__pb2.DescribeJobsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.DescribeJobsResponse.FromString, _registered_method=True)
        self.GetJobSettings = channel.unary_unary('/jobop.v1.JobOperatorService/GetJobSettings', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetJobSettingsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetJobSettingsResponse.FromString, _registered_method=True)
        self.UpdateJobSettings = channel.unary_unary('/jobop.v1.JobOperatorService/UpdateJobSettings', request_serializer=jobop_dot_v1_dot_job__operator__pb2.UpdateJobSettingsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.UpdateJobSettingsResponse.FromString, _registered_method=True)
        self.PauseJob = channel.unary_unary('/jobop.v1.JobOperatorService/PauseJob', request_serializer=jobop_dot_v1_dot_job__operator__pb2.PauseJobRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.PauseJobResponse.FromString, _registered_method=True)
        self.ResumeJob = channel.unary_unary('/jobop.v1.JobOperatorService/ResumeJob', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ResumeJobRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ResumeJobResponse.FromString, _registered_method=True)
        self.ListQueue = channel.unary_unary('/jobop.v1.JobOperatorService/ListQueue', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ListQueueRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListQueueResponse.FromString, _registered_method=True)
        self.CreateSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/CreateSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.CreateScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.CreateScheduleResponse.FromString, _registered_method=True)
        self.GetSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/GetSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetScheduleResponse.FromString, _registered_method=True)
        self.ListSchedules = channel.unary_unary('/jobop.v1.JobOperatorService/ListSchedules', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ListSchedulesRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListSchedulesResponse.FromString, _registered_method=True)
        self.UpdateSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/UpdateSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.UpdateScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.UpdateScheduleResponse.FromString, _registered_method=True)
        self.DeleteSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/DeleteSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.DeleteScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.DeleteScheduleResponse.FromString, _registered_method=True)
        self.PauseSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/PauseSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.PauseScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.PauseScheduleResponse.FromString, _registered_method=True)
        self.ResumeSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/ResumeSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ResumeScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ResumeScheduleResponse.FromString, _registered_method=True)
        self.TriggerSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/TriggerSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.TriggerScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.TriggerScheduleResponse.FromString, _registered_method=True)
        self.ListScheduleFires = channel.unary_unary('/jobop.v1.JobOperatorService/ListScheduleFires', request_serializer=jobop_dot_v1_dot_job__operator__pb2.ListScheduleFiresRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListScheduleFiresResponse.FromString, _registered_method=True)
        self.PreviewSchedule = channel.unary_unary('/jobop.v1.JobOperatorService/PreviewSchedule', request_serializer=jobop_dot_v1_dot_job__operator__pb2.PreviewScheduleRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.PreviewScheduleResponse.FromString, _registered_method=True)
        self.StartJobs = channel.unary_unary('/jobop.v1.JobOperatorService/StartJobs', request_serializer=jobop_dot_v1_dot_job__operator__pb2.StartJobsRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.StartJobsResponse.FromString, _registered_method=True)
        self.BulkStop = channel.unary_stream('/jobop.v1.JobOperatorService/BulkStop', request_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkStopRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkStopResponse.FromString, _registered_method=True)
        self.BulkAbandon = channel.unary_stream('/jobop.v1.JobOperatorService/BulkAbandon', request_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkAbandonRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkAbandonResponse.FromString, _registered_method=True)
        self.BulkRestart = channel.unary_stream('/jobop.v1.JobOperatorService/BulkRestart', request_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkRestartRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkRestartResponse.FromString, _registered_method=True)
        self.BulkRecover = channel.unary_stream('/jobop.v1.JobOperatorService/BulkRecover', request_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkRecoverRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkRecoverResponse.FromString, _registered_method=True)
        self.GetBulkOperation = channel.unary_unary('/jobop.v1.JobOperatorService/GetBulkOperation', request_serializer=jobop_dot_v1_dot_job__operator__pb2.GetBulkOperationRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetBulkOperationResponse.FromString, _registered_method=True)
        self.WatchBulkOperation = channel.unary_stream('/jobop.v1.JobOperatorService/WatchBulkOperation', request_serializer=jobop_dot_v1_dot_job__operator__pb2.WatchBulkOperationRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.WatchBulkOperationResponse.FromString, _registered_method=True)
        self.CancelBulkOperation = channel.unary_unary('/jobop.v1.JobOperatorService/CancelBulkOperation', request_serializer=jobop_dot_v1_dot_job__operator__pb2.CancelBulkOperationRequest.SerializeToString, response_deserializer=jobop_dot_v1_dot_job__operator__pb2.CancelBulkOperationResponse.FromString, _registered_method=True)

class JobOperatorServiceServicer(object):
    """Starts, stops, restarts and follows batch job executions.
    """

    def Start(self, request, context):
        """Launches a new instance of a job. Refused with JOB_INSTANCE_ALREADY_EXISTS when the
        identifying parameters name an instance that exists already (use Restart for that).
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def StartNextInstance(self, request, context):
        """Launches the next instance of a job, with parameters from the job's incrementer
        applied to the parameters of its last instance.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def Stop(self, request, context):
        """Asks a STARTING or STARTED execution to stop. Steps end at their next chunk boundary;
        the call returns at once with the execution (usually STOPPING).
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def Restart(self, request, context):
        """Runs the instance of a FAILED or STOPPED execution again, with the same parameters,
        as a new execution.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def Abandon(self, request, context):
        """Marks a STOPPING, STOPPED, FAILED or UNKNOWN execution ABANDONED: it will never be
        restarted.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def Recover(self, request, context):
        """Marks an execution whose owning process died FAILED so that it can be restarted.
        Refused with JOB_EXECUTION_ALREADY_RUNNING while its owner is alive, and for an
        execution no jobop node owns (a Spring Batch application's) unless `force` is set.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetRunningExecutions(self, request, context):
        """The ids of the running (STARTING, STARTED, STOPPING) executions of a job, or of
        every job (registered here or known only from the repository) when job_name is empty.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetSummary(self, request, context):
        """A one-line summary of an execution, in Spring Batch's JobExecution.toString() format.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetStepExecutionSummaries(self, request, context):
        """One summary per step execution, in Spring Batch's StepExecution.getSummary() format.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetJobNames(self, request, context):
        """The names of the jobs this server can launch, sorted.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetParameters(self, request, context):
        """The parameters an execution was launched with.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetJobExecution(self, request, context):
        """One execution with its step executions.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListJobInstances(self, request, context):
        """The instances of a job (empty job_name: of every job), newest first.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListJobExecutions(self, request, context):
        """The executions of a job or of one of its instances, newest first (or oldest first);
        of every job (registered here or known only from the repository) when neither is
        given; only those the `filter` selects. Page tokens are bound to the request's job,
        instance, filter and order: one reused with others is INVALID_ARGUMENT.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def CountJobExecutions(self, request, context):
        """How many executions ListJobExecutions would list for the same job, instance and filter.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def WatchExecution(self, request, context):
        """Follows one execution: the current snapshot first, then one snapshot per change
        (status transitions always; progress at chunk commits, coalesced for slow readers),
        heartbeats at least every 30 s, and the end of the stream once the execution is no
        longer running.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def WatchExecutions(self, request, context):
        """Follows every execution of a job (or of all jobs): a snapshot per change, heartbeats
        at least every 30 s. The stream does not end by itself.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListAuditEvents(self, request, context):
        """The audit trail of control actions (Start, StartNextInstance, Stop, Restart, Abandon,
        Recover): who asked what, when, from where, and the outcome; newest first.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def DescribeJobs(self, request, context):
        """The job catalogue: what each job is, the parameters it declares, its steps, and whether
        this server runs it or only the repository knows it (a Spring Batch application's job,
        or one no longer deployed here). Empty `job_names`: every job, sorted by name. A named
        job unknown to both is NOT_FOUND (NO_SUCH_JOB).
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetJobSettings(self, request, context):
        """-- workload control (docs/workload.md) --

        Each job's settings (what it declares, the run-time values set over it, and those in
        force) with how many of its executions hold a slot or wait. Empty `job_names`: every
        registered job and every job with run-time settings, sorted by name. A named job
        unknown here and to the repository is NOT_FOUND (NO_SUCH_JOB). REST: one job at
        GET /api/jobs/{job_name}/settings.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def UpdateJobSettings(self, request, context):
        """Sets or clears run-time settings of a job (admin role): a field named in
        `update_mask` takes its value from `settings`, or is cleared (the declared value
        holds again) when unset there. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def PauseJob(self, request, context):
        """Holds the job's new and waiting starts in the queue until ResumeJob; running
        executions go on unless `stop_running`. Survives restarts of every node. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ResumeJob(self, request, context):
        """Lets a paused job's queued starts run again. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListQueue(self, request, context):
        """The starts waiting for a claim, in the order they will run (higher priority first,
        then oldest first), each saying why it waits. Empty `job_name`: every job.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def CreateSchedule(self, request, context):
        """-- schedules (docs/schedules.md) --

        Creates a schedule: its job starts at each fire time of its cron expression in its time
        zone, each fire a job instance of its own (identified by `schedule.name` and
        `schedule.fireTime`). A taken name is ALREADY_EXISTS (SCHEDULE_EXISTS); a bad cron
        expression, zone, policy or parameter is INVALID_ARGUMENT naming the field. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetSchedule(self, request, context):
        """One schedule with its next fire times and its last fire. NOT_FOUND (NO_SUCH_SCHEDULE)
        when there is none of that name.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListSchedules(self, request, context):
        """Every schedule, sorted by name, each with its next fire times and its last fire.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def UpdateSchedule(self, request, context):
        """Changes the fields of a schedule named in `update_mask` (a named field unset in
        `schedule` takes its default). The name cannot change. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def DeleteSchedule(self, request, context):
        """Deletes a schedule and its fire records; the executions its fires launched stay.
        Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def PauseSchedule(self, request, context):
        """Stops a schedule's fires until ResumeSchedule; the fire times passed meanwhile are not
        caught up. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ResumeSchedule(self, request, context):
        """Lets a paused schedule fire again, from its next fire time after now. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def TriggerSchedule(self, request, context):
        """Fires a schedule now, as an extra fire at the current time (paused or not), under the
        schedule's overlap policy. Audited.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def ListScheduleFires(self, request, context):
        """A schedule's recorded fires, newest first.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def PreviewSchedule(self, request, context):
        """The fire times a cron expression would have in a time zone, stored nowhere.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def StartJobs(self, request, context):
        """-- executions at scale (docs/operations.md) ------------------------------------------

        Starts many executions in one call (at most 1,000 entries, written together), each
        entry answered on its own: its execution, or the error that refused it.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def BulkStop(self, request, context):
        """Bulk operations: the action applied to every execution a filter (or a list of ids)
        selects, as one operation resource that runs on the server (throttled, audited, carried
        on by another node if its node dies). The stream sends the operation as accepted,
        then its progress, and ends when it is DONE or CANCELLED; a client that goes away
        does not cancel it. A dry run sends one message: the count and the first ids.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def BulkAbandon(self, request, context):
        """Missing associated documentation comment in .proto file."""
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def BulkRestart(self, request, context):
        """Missing associated documentation comment in .proto file."""
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def BulkRecover(self, request, context):
        """Missing associated documentation comment in .proto file."""
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def GetBulkOperation(self, request, context):
        """One bulk operation as it is now (NOT_FOUND reason NO_SUCH_OPERATION).
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def WatchBulkOperation(self, request, context):
        """Follows a bulk operation: its state now, then its progress, until it ends.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

    def CancelBulkOperation(self, request, context):
        """Cancels a running bulk operation: it ends CANCELLED after the execution in hand;
        what it did stays done. A finished operation is answered as it is.
        """
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details('Method not implemented!')
        raise NotImplementedError('Method not implemented!')

def add_JobOperatorServiceServicer_to_server(servicer, server):
    rpc_method_handlers = {'Start': grpc.unary_unary_rpc_method_handler(servicer.Start, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.StartRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.StartResponse.SerializeToString), 'StartNextInstance': grpc.unary_unary_rpc_method_handler(servicer.StartNextInstance, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.StartNextInstanceRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.StartNextInstanceResponse.SerializeToString), 'Stop': grpc.unary_unary_rpc_method_handler(servicer.Stop, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.StopRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.StopResponse.SerializeToString), 'Restart': grpc.unary_unary_rpc_method_handler(servicer.Restart, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.RestartRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.RestartResponse.SerializeToString), 'Abandon': grpc.unary_unary_rpc_method_handler(servicer.Abandon, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.AbandonRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.AbandonResponse.SerializeToString), 'Recover': grpc.unary_unary_rpc_method_handler(servicer.Recover, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.RecoverRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.RecoverResponse.SerializeToString), 'GetRunningExecutions': grpc.unary_unary_rpc_method_handler(servicer.GetRunningExecutions, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetRunningExecutionsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetRunningExecutionsResponse.SerializeToString), 'GetSummary': grpc.unary_unary_rpc_method_handler(servicer.GetSummary, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetSummaryRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetSummaryResponse.SerializeToString), 'GetStepExecutionSummaries': grpc.unary_unary_rpc_method_handler(servicer.GetStepExecutionSummaries, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetStepExecutionSummariesRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetStepExecutionSummariesResponse.SerializeToString), 'GetJobNames': grpc.unary_unary_rpc_method_handler(servicer.GetJobNames, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetJobNamesRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetJobNamesResponse.SerializeToString), 'GetParameters': grpc.unary_unary_rpc_method_handler(servicer.GetParameters, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetParametersRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetParametersResponse.SerializeToString), 'GetJobExecution': grpc.unary_unary_rpc_method_handler(servicer.GetJobExecution, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetJobExecutionRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetJobExecutionResponse.SerializeToString), 'ListJobInstances': grpc.unary_unary_rpc_method_handler(servicer.ListJobInstances, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListJobInstancesRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ListJobInstancesResponse.SerializeToString), 'ListJobExecutions': grpc.unary_unary_rpc_method_handler(servicer.ListJobExecutions, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListJobExecutionsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ListJobExecutionsResponse.SerializeToString), 'CountJobExecutions': grpc.unary_unary_rpc_method_handler(servicer.CountJobExecutions, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.CountJobExecutionsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.CountJobExecutionsResponse.SerializeToString), 'WatchExecution': grpc.unary_stream_rpc_method_handler(servicer.WatchExecution, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionResponse.SerializeToString), 'WatchExecutions': grpc.unary_stream_rpc_method_handler(servicer.WatchExecutions, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.WatchExecutionsResponse.SerializeToString), 'ListAuditEvents': grpc.unary_unary_rpc_method_handler(servicer.ListAuditEvents, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListAuditEventsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ListAuditEventsResponse.SerializeToString), 'DescribeJobs': grpc.unary_unary_rpc_method_handler(servicer.DescribeJobs, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.DescribeJobsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.DescribeJobsResponse.SerializeToString), 'GetJobSettings': grpc.unary_unary_rpc_method_handler(servicer.GetJobSettings, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetJobSettingsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetJobSettingsResponse.SerializeToString), 'UpdateJobSettings': grpc.unary_unary_rpc_method_handler(servicer.UpdateJobSettings, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.UpdateJobSettingsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.UpdateJobSettingsResponse.SerializeToString), 'PauseJob': grpc.unary_unary_rpc_method_handler(servicer.PauseJob, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.PauseJobRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.PauseJobResponse.SerializeToString), 'ResumeJob': grpc.unary_unary_rpc_method_handler(servicer.ResumeJob, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ResumeJobRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ResumeJobResponse.SerializeToString), 'ListQueue': grpc.unary_unary_rpc_method_handler(servicer.ListQueue, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListQueueRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ListQueueResponse.SerializeToString), 'CreateSchedule': grpc.unary_unary_rpc_method_handler(servicer.CreateSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.CreateScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.CreateScheduleResponse.SerializeToString), 'GetSchedule': grpc.unary_unary_rpc_method_handler(servicer.GetSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetScheduleResponse.SerializeToString), 'ListSchedules': grpc.unary_unary_rpc_method_handler(servicer.ListSchedules, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListSchedulesRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ListSchedulesResponse.SerializeToString), 'UpdateSchedule': grpc.unary_unary_rpc_method_handler(servicer.UpdateSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.UpdateScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.UpdateScheduleResponse.SerializeToString), 'DeleteSchedule': grpc.unary_unary_rpc_method_handler(servicer.DeleteSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.DeleteScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.DeleteScheduleResponse.SerializeToString), 'PauseSchedule': grpc.unary_unary_rpc_method_handler(servicer.PauseSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.PauseScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.PauseScheduleResponse.SerializeToString), 'ResumeSchedule': grpc.unary_unary_rpc_method_handler(servicer.ResumeSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ResumeScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ResumeScheduleResponse.SerializeToString), 'TriggerSchedule': grpc.unary_unary_rpc_method_handler(servicer.TriggerSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.TriggerScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.TriggerScheduleResponse.SerializeToString), 'ListScheduleFires': grpc.unary_unary_rpc_method_handler(servicer.ListScheduleFires, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.ListScheduleFiresRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.ListScheduleFiresResponse.SerializeToString), 'PreviewSchedule': grpc.unary_unary_rpc_method_handler(servicer.PreviewSchedule, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.PreviewScheduleRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.PreviewScheduleResponse.SerializeToString), 'StartJobs': grpc.unary_unary_rpc_method_handler(servicer.StartJobs, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.StartJobsRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.StartJobsResponse.SerializeToString), 'BulkStop': grpc.unary_stream_rpc_method_handler(servicer.BulkStop, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkStopRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkStopResponse.SerializeToString), 'BulkAbandon': grpc.unary_stream_rpc_method_handler(servicer.BulkAbandon, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkAbandonRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkAbandonResponse.SerializeToString), 'BulkRestart': grpc.unary_stream_rpc_method_handler(servicer.BulkRestart, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkRestartRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkRestartResponse.SerializeToString), 'BulkRecover': grpc.unary_stream_rpc_method_handler(servicer.BulkRecover, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.BulkRecoverRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.BulkRecoverResponse.SerializeToString), 'GetBulkOperation': grpc.unary_unary_rpc_method_handler(servicer.GetBulkOperation, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.GetBulkOperationRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.GetBulkOperationResponse.SerializeToString), 'WatchBulkOperation': grpc.unary_stream_rpc_method_handler(servicer.WatchBulkOperation, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.WatchBulkOperationRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.WatchBulkOperationResponse.SerializeToString), 'CancelBulkOperation': grpc.unary_unary_rpc_method_handler(servicer.CancelBulkOperation, request_deserializer=jobop_dot_v1_dot_job__operator__pb2.CancelBulkOperationRequest.FromString, response_serializer=jobop_dot_v1_dot_job__operator__pb2.CancelBulkOperationResponse.SerializeToString)}
    generic_handler = grpc.method_handlers_generic_handler('jobop.v1.JobOperatorService', rpc_method_handlers)
    server.add_generic_rpc_handlers((generic_handler,))
    server.add_registered_method_handlers('jobop.v1.JobOperatorService', rpc_method_handlers)

class JobOperatorService(object):
    """Starts, stops, restarts and follows batch job executions.
    """

    @staticmethod
    def Start(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/Start', jobop_dot_v1_dot_job__operator__pb2.StartRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.StartResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def StartNextInstance(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/StartNextInstance', jobop_dot_v1_dot_job__operator__pb2.StartNextInstanceRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.StartNextInstanceResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def Stop(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/Stop', jobop_dot_v1_dot_job__operator__pb2.StopRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.StopResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def Restart(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/Restart', jobop_dot_v1_dot_job__operator__pb2.RestartRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.RestartResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def Abandon(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/Abandon', jobop_dot_v1_dot_job__operator__pb2.AbandonRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.AbandonResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def Recover(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/Recover', jobop_dot_v1_dot_job__operator__pb2.RecoverRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.RecoverResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetRunningExecutions(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetRunningExecutions', jobop_dot_v1_dot_job__operator__pb2.GetRunningExecutionsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetRunningExecutionsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetSummary(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetSummary', jobop_dot_v1_dot_job__operator__pb2.GetSummaryRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetSummaryResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetStepExecutionSummaries(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetStepExecutionSummaries', jobop_dot_v1_dot_job__operator__pb2.GetStepExecutionSummariesRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetStepExecutionSummariesResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetJobNames(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetJobNames', jobop_dot_v1_dot_job__operator__pb2.GetJobNamesRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetJobNamesResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetParameters(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetParameters', jobop_dot_v1_dot_job__operator__pb2.GetParametersRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetParametersResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetJobExecution(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetJobExecution', jobop_dot_v1_dot_job__operator__pb2.GetJobExecutionRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetJobExecutionResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListJobInstances(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ListJobInstances', jobop_dot_v1_dot_job__operator__pb2.ListJobInstancesRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ListJobInstancesResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListJobExecutions(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ListJobExecutions', jobop_dot_v1_dot_job__operator__pb2.ListJobExecutionsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ListJobExecutionsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def CountJobExecutions(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/CountJobExecutions', jobop_dot_v1_dot_job__operator__pb2.CountJobExecutionsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.CountJobExecutionsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def WatchExecution(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/WatchExecution', jobop_dot_v1_dot_job__operator__pb2.WatchExecutionRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.WatchExecutionResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def WatchExecutions(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/WatchExecutions', jobop_dot_v1_dot_job__operator__pb2.WatchExecutionsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.WatchExecutionsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListAuditEvents(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ListAuditEvents', jobop_dot_v1_dot_job__operator__pb2.ListAuditEventsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ListAuditEventsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def DescribeJobs(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/DescribeJobs', jobop_dot_v1_dot_job__operator__pb2.DescribeJobsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.DescribeJobsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetJobSettings(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetJobSettings', jobop_dot_v1_dot_job__operator__pb2.GetJobSettingsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetJobSettingsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def UpdateJobSettings(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/UpdateJobSettings', jobop_dot_v1_dot_job__operator__pb2.UpdateJobSettingsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.UpdateJobSettingsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def PauseJob(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/PauseJob', jobop_dot_v1_dot_job__operator__pb2.PauseJobRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.PauseJobResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ResumeJob(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ResumeJob', jobop_dot_v1_dot_job__operator__pb2.ResumeJobRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ResumeJobResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListQueue(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ListQueue', jobop_dot_v1_dot_job__operator__pb2.ListQueueRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ListQueueResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def CreateSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/CreateSchedule', jobop_dot_v1_dot_job__operator__pb2.CreateScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.CreateScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetSchedule', jobop_dot_v1_dot_job__operator__pb2.GetScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListSchedules(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ListSchedules', jobop_dot_v1_dot_job__operator__pb2.ListSchedulesRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ListSchedulesResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def UpdateSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/UpdateSchedule', jobop_dot_v1_dot_job__operator__pb2.UpdateScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.UpdateScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def DeleteSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/DeleteSchedule', jobop_dot_v1_dot_job__operator__pb2.DeleteScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.DeleteScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def PauseSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/PauseSchedule', jobop_dot_v1_dot_job__operator__pb2.PauseScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.PauseScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ResumeSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ResumeSchedule', jobop_dot_v1_dot_job__operator__pb2.ResumeScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ResumeScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def TriggerSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/TriggerSchedule', jobop_dot_v1_dot_job__operator__pb2.TriggerScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.TriggerScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def ListScheduleFires(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/ListScheduleFires', jobop_dot_v1_dot_job__operator__pb2.ListScheduleFiresRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.ListScheduleFiresResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def PreviewSchedule(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/PreviewSchedule', jobop_dot_v1_dot_job__operator__pb2.PreviewScheduleRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.PreviewScheduleResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def StartJobs(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/StartJobs', jobop_dot_v1_dot_job__operator__pb2.StartJobsRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.StartJobsResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def BulkStop(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/BulkStop', jobop_dot_v1_dot_job__operator__pb2.BulkStopRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.BulkStopResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def BulkAbandon(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/BulkAbandon', jobop_dot_v1_dot_job__operator__pb2.BulkAbandonRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.BulkAbandonResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def BulkRestart(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/BulkRestart', jobop_dot_v1_dot_job__operator__pb2.BulkRestartRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.BulkRestartResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def BulkRecover(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/BulkRecover', jobop_dot_v1_dot_job__operator__pb2.BulkRecoverRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.BulkRecoverResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def GetBulkOperation(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/GetBulkOperation', jobop_dot_v1_dot_job__operator__pb2.GetBulkOperationRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.GetBulkOperationResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def WatchBulkOperation(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_stream(request, target, '/jobop.v1.JobOperatorService/WatchBulkOperation', jobop_dot_v1_dot_job__operator__pb2.WatchBulkOperationRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.WatchBulkOperationResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)

    @staticmethod
    def CancelBulkOperation(request, target, options=(), channel_credentials=None, call_credentials=None, insecure=False, compression=None, wait_for_ready=None, timeout=None, metadata=None):
        return grpc.experimental.unary_unary(request, target, '/jobop.v1.JobOperatorService/CancelBulkOperation', jobop_dot_v1_dot_job__operator__pb2.CancelBulkOperationRequest.SerializeToString, jobop_dot_v1_dot_job__operator__pb2.CancelBulkOperationResponse.FromString, options, channel_credentials, insecure, call_credentials, compression, wait_for_ready, timeout, metadata, _registered_method=True)