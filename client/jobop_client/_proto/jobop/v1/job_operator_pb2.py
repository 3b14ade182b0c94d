"""Generated protocol buffer code."""
from google.protobuf import descriptor as _descriptor
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import runtime_version as _runtime_version
from google.protobuf import symbol_database as _symbol_database
from google.protobuf.internal import builder as _builder
_runtime_version.ValidateProtobufRuntimeVersion(_runtime_version.Domain.PUBLIC, 5, 29, 0, '', 'jobop/v1/job_operator.proto')
_sym_db = _symbol_database.Default()
try:  # gen-protos: prefer googleapis-common-protos' copy (one per process)
    from google.api import annotations_pb2 as google_dot_api_dot_annotations__pb2
except ImportError:  # a client-only install: the vendored copy
    from ...google.api import annotations_pb2 as google_dot_api_dot_annotations__pb2
from google.protobuf import timestamp_pb2 as google_dot_protobuf_dot_timestamp__pb2
DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b'\n\x1bjobop/v1/job_operator.proto\x12\x08jobop.v1\x1a\x1cgoogle/api/annotations.proto\x1a\x1fgoogle/protobuf/timestamp.proto"9\n\nExitStatus\x12\x11\n\texit_code\x18\x01 \x01(\t\x12\x18\n\x10exit_description\x18\x02 \x01(\t"\xcf\x01\n\x0cJobParameter\x12\x16\n\x0cstring_value\x18\x01 \x01(\tH\x00\x12\x14\n\nlong_value\x18\x02 \x01(\x03H\x00\x12\x16\n\x0cdouble_value\x18\x03 \x01(\x01H\x00\x120\n\ndate_value\x18\x04 \x01(\x0b2\x1a.google.protobuf.TimestampH\x00\x12\x14\n\nbool_value\x18\x05 \x01(\x08H\x00\x12\x18\n\x0bidentifying\x18\x06 \x01(\x08H\x01\x88\x01\x01B\x07\n\x05valueB\x0e\n\x0c_identifying"M\n\x0bJobInstance\x12\n\n\x02id\x18\x01 \x01(\x03\x12\x0f\n\x07version\x18\x02 \x01(\x03\x12\x10\n\x08job_name\x18\x03 \x01(\t\x12\x0f\n\x07job_key\x18\x04 \x01(\t"\xa8\x04\n\rStepExecution\x12\n\n\x02id\x18\x01 \x01(\x03\x12\x0f\n\x07version\x18\x02 \x01(\x03\x12\x11\n\tstep_name\x18\x03 \x01(\t\x12%\n\x06status\x18\x04 \x01(\x0e2\x15.jobop.v1.BatchStatus\x12)\n\x0bexit_status\x18\x05 \x01(\x0b2\x14.jobop.v1.ExitStatus\x12\x12\n\nread_count\x18\x06 \x01(\x03\x12\x13\n\x0bwrite_count\x18\x07 \x01(\x03\x12\x14\n\x0cfilter_count\x18\x08 \x01(\x03\x12\x14\n\x0ccommit_count\x18\t \x01(\x03\x12\x16\n\x0erollback_count\x18\n \x01(\x03\x12\x17\n\x0fread_skip_count\x18\x0b \x01(\x03\x12\x1a\n\x12process_skip_count\x18\x0c \x01(\x03\x12\x18\n\x10write_skip_count\x18\r \x01(\x03\x12.\n\nstart_time\x18\x0e \x01(\x0b2\x1a.google.protobuf.Timestamp\x12,\n\x08end_time\x18\x0f \x01(\x0b2\x1a.google.protobuf.Timestamp\x120\n\x0clast_updated\x18\x10 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12\x18\n\x10job_execution_id\x18\x11 \x01(\x03\x12/\n\x0bcreate_time\x18\x12 \x01(\x0b2\x1a.google.protobuf.Timestamp"\xa2\x04\n\x0cJobExecution\x12\n\n\x02id\x18\x01 \x01(\x03\x12\x0f\n\x07version\x18\x02 \x01(\x03\x12\x17\n\x0fjob_instance_id\x18\x03 \x01(\x03\x12\x10\n\x08job_name\x18\x04 \x01(\t\x12:\n\nparameters\x18\x05 \x03(\x0b2&.jobop.v1.JobExecution.ParametersEntry\x12%\n\x06status\x18\x06 \x01(\x0e2\x15.jobop.v1.BatchStatus\x12)\n\x0bexit_status\x18\x07 \x01(\x0b2\x14.jobop.v1.ExitStatus\x12/\n\x0bcreate_time\x18\x08 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12.\n\nstart_time\x18\t \x01(\x0b2\x1a.google.protobuf.Timestamp\x12,\n\x08end_time\x18\n \x01(\x0b2\x1a.google.protobuf.Timestamp\x120\n\x0clast_updated\x18\x0b \x01(\x0b2\x1a.google.protobuf.Timestamp\x120\n\x0fstep_executions\x18\x0c \x03(\x0b2\x17.jobop.v1.StepExecution\x1aI\n\x0fParametersEntry\x12\x0b\n\x03key\x18\x01 \x01(\t\x12%\n\x05value\x18\x02 \x01(\x0b2\x16.jobop.v1.JobParameter:\x028\x01"\xbb\x01\n\x0cStartRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t\x12:\n\nparameters\x18\x02 \x03(\x0b2&.jobop.v1.StartRequest.ParametersEntry\x12\x12\n\nrequest_id\x18\x03 \x01(\t\x1aI\n\x0fParametersEntry\x12\x0b\n\x03key\x18\x01 \x01(\t\x12%\n\x05value\x18\x02 \x01(\x0b2\x16.jobop.v1.JobParameter:\x028\x01":\n\rStartResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution"@\n\x18StartNextInstanceRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t\x12\x12\n\nrequest_id\x18\x02 \x01(\t"F\n\x19StartNextInstanceResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution"#\n\x0bStopRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03"9\n\x0cStopResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution":\n\x0eRestartRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03\x12\x12\n\nrequest_id\x18\x02 \x01(\t"<\n\x0fRestartResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution"&\n\x0eAbandonRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03"<\n\x0fAbandonResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution"5\n\x0eRecoverRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03\x12\r\n\x05force\x18\x02 \x01(\x08"<\n\x0fRecoverResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution"/\n\x1bGetRunningExecutionsRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t"5\n\x1cGetRunningExecutionsResponse\x12\x15\n\rexecution_ids\x18\x01 \x03(\x03")\n\x11GetSummaryRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03"%\n\x12GetSummaryResponse\x12\x0f\n\x07summary\x18\x01 \x01(\t"8\n GetStepExecutionSummariesRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03"\xa4\x01\n!GetStepExecutionSummariesResponse\x12M\n\tsummaries\x18\x01 \x03(\x0b2:.jobop.v1.GetStepExecutionSummariesResponse.SummariesEntry\x1a0\n\x0eSummariesEntry\x12\x0b\n\x03key\x18\x01 \x01(\x03\x12\r\n\x05value\x18\x02 \x01(\t:\x028\x01"\x14\n\x12GetJobNamesRequest"(\n\x13GetJobNamesResponse\x12\x11\n\tjob_names\x18\x01 \x03(\t",\n\x14GetParametersRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03"\xa7\x01\n\x15GetParametersResponse\x12C\n\nparameters\x18\x01 \x03(\x0b2/.jobop.v1.GetParametersResponse.ParametersEntry\x1aI\n\x0fParametersEntry\x12\x0b\n\x03key\x18\x01 \x01(\t\x12%\n\x05value\x18\x02 \x01(\x0b2\x16.jobop.v1.JobParameter:\x028\x01".\n\x16GetJobExecutionRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03"D\n\x17GetJobExecutionResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution"R\n\x17ListJobInstancesRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t\x12\x11\n\tpage_size\x18\x02 \x01(\x05\x12\x12\n\npage_token\x18\x03 \x01(\t"a\n\x18ListJobInstancesResponse\x12,\n\rjob_instances\x18\x01 \x03(\x0b2\x15.jobop.v1.JobInstance\x12\x17\n\x0fnext_page_token\x18\x02 \x01(\t"l\n\x18ListJobExecutionsRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t\x12\x17\n\x0fjob_instance_id\x18\x02 \x01(\x03\x12\x11\n\tpage_size\x18\x03 \x01(\x05\x12\x12\n\npage_token\x18\x04 \x01(\t"`\n\x19ListJobExecutionsResponse\x12*\n\nexecutions\x18\x01 \x03(\x0b2\x16.jobop.v1.JobExecution\x12\x17\n\x0fnext_page_token\x18\x02 \x01(\t"D\n\x15WatchExecutionRequest\x12\x14\n\x0cexecution_id\x18\x01 \x01(\x03\x12\x15\n\rafter_version\x18\x02 \x01(\x03"V\n\x16WatchExecutionResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution\x12\x11\n\theartbeat\x18\x02 \x01(\x08"*\n\x16WatchExecutionsRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t"W\n\x17WatchExecutionsResponse\x12)\n\texecution\x18\x01 \x01(\x0b2\x16.jobop.v1.JobExecution\x12\x11\n\theartbeat\x18\x02 \x01(\x08"|\n\x16ListAuditEventsRequest\x12\x10\n\x08job_name\x18\x01 \x01(\t\x12)\n\x05since\x18\x02 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12\x11\n\tpage_size\x18\x03 \x01(\x05\x12\x12\n\npage_token\x18\x04 \x01(\t"\xfe\x01\n\nAuditEvent\x12\n\n\x02id\x18\x01 \x01(\x03\x12(\n\x04time\x18\x02 \x01(\x0b2\x1a.google.protobuf.Timestamp\x12\x11\n\tprincipal\x18\x03 \x01(\t\x12\x0c\n\x04role\x18\x04 \x01(\t\x12\x0e\n\x06action\x18\x05 \x01(\t\x12\x11\n\targuments\x18\x06 \x01(\t\x12\x0c\n\x04peer\x18\x07 \x01(\t\x12\x0c\n\x04node\x18\x08 \x01(\t\x12\x11\n\tsucceeded\x18\t \x01(\x08\x12\x0e\n\x06reason\x18\n \x01(\t\x12\x0f\n\x07message\x18\x0b \x01(\t\x12\x14\n\x0cexecution_id\x18\x0c \x01(\x03\x12\x10\n\x08job_name\x18\r \x01(\t"X\n\x17ListAuditEventsResponse\x12$\n\x06events\x18\x01 \x03(\x0b2\x14.jobop.v1.AuditEvent\x12\x17\n\x0fnext_page_token\x18\x02 \x01(\t*\x80\x02\n\x0bBatchStatus\x12\x1c\n\x18BATCH_STATUS_UNSPECIFIED\x10\x00\x12\x1a\n\x16BATCH_STATUS_COMPLETED\x10\x01\x12\x19\n\x15BATCH_STATUS_STARTING\x10\x02\x12\x18\n\x14BATCH_STATUS_STARTED\x10\x03\x12\x19\n\x15BATCH_STATUS_STOPPING\x10\x04\x12\x18\n\x14BATCH_STATUS_STOPPED\x10\x05\x12\x17\n\x13BATCH_STATUS_FAILED\x10\x06\x12\x1a\n\x16BATCH_STATUS_ABANDONED\x10\x07\x12\x18\n\x14BATCH_STATUS_UNKNOWN\x10\x082\xe6\x10\n\x12JobOperatorService\x12_\n\x05Start\x12\x16.jobop.v1.StartRequest\x1a\x17.jobop.v1.StartResponse"%\x82\xd3\xe4\x93\x02\x1f"\x1a/api/jobs/{job_name}/start:\x01*\x12\x82\x01\n\x11StartNextInstance\x12".jobop.v1.StartNextInstanceRequest\x1a#.jobop.v1.StartNextInstanceResponse"$\x82\xd3\xe4\x93\x02\x1e"\x19/api/jobs/{job_name}/next:\x01*\x12e\n\x04Stop\x12\x15.jobop.v1.StopRequest\x1a\x16.jobop.v1.StopResponse".\x82\xd3\xe4\x93\x02("#/api/executions/{execution_id}/stop:\x01*\x12q\n\x07Restart\x12\x18.jobop.v1.RestartRequest\x1a\x19.jobop.v1.RestartResponse"1\x82\xd3\xe4\x93\x02+"&/api/executions/{execution_id}/restart:\x01*\x12q\n\x07Abandon\x12\x18.jobop.v1.AbandonRequest\x1a\x19.jobop.v1.AbandonResponse"1\x82\xd3\xe4\x93\x02+"&/api/executions/{execution_id}/abandon:\x01*\x12q\n\x07Recover\x12\x18.jobop.v1.RecoverRequest\x1a\x19.jobop.v1.RecoverResponse"1\x82\xd3\xe4\x93\x02+"&/api/executions/{execution_id}/recover:\x01*\x12\x95\x01\n\x14GetRunningExecutions\x12%.jobop.v1.GetRunningExecutionsRequest\x1a&.jobop.v1.GetRunningExecutionsResponse".\x82\xd3\xe4\x93\x02(\x12&/api/jobs/{job_name}/runningExecutions\x12w\n\nGetSummary\x12\x1b.jobop.v1.GetSummaryRequest\x1a\x1c.jobop.v1.GetSummaryResponse".\x82\xd3\xe4\x93\x02(\x12&/api/executions/{execution_id}/summary\x12\xaa\x01\n\x19GetStepExecutionSummaries\x12*.jobop.v1.GetStepExecutionSummariesRequest\x1a+.jobop.v1.GetStepExecutionSummariesResponse"4\x82\xd3\xe4\x93\x02.\x12,/api/executions/{execution_id}/stepSummaries\x12]\n\x0bGetJobNames\x12\x1c.jobop.v1.GetJobNamesRequest\x1a\x1d.jobop.v1.GetJobNamesResponse"\x11\x82\xd3\xe4\x93\x02\x0b\x12\t/api/jobs\x12\x83\x01\n\rGetParameters\x12\x1e.jobop.v1.GetParametersRequest\x1a\x1f.jobop.v1.GetParametersResponse"1\x82\xd3\xe4\x93\x02+\x12)/api/executions/{execution_id}/parameters\x12~\n\x0fGetJobExecution\x12 .jobop.v1.GetJobExecutionRequest\x1a!.jobop.v1.GetJobExecutionResponse"&\x82\xd3\xe4\x93\x02 \x12\x1e/api/executions/{execution_id}\x12\x81\x01\n\x10ListJobInstances\x12!.jobop.v1.ListJobInstancesRequest\x1a".jobop.v1.ListJobInstancesResponse"&\x82\xd3\xe4\x93\x02 \x12\x1e/api/jobs/{job_name}/instances\x12\xb4\x01\n\x11ListJobExecutions\x12".jobop.v1.ListJobExecutionsRequest\x1a#.jobop.v1.ListJobExecutionsResponse"V\x82\xd3\xe4\x93\x02P\x12\x1f/api/jobs/{job_name}/executionsZ-\x12+/api/instances/{job_instance_id}/executions\x12\x84\x01\n\x0eWatchExecution\x12\x1f.jobop.v1.WatchExecutionRequest\x1a .jobop.v1.WatchExecutionResponse"-\x82\xd3\xe4\x93\x02\'\x12%/api/executions/{execution_id}/events0\x01\x12m\n\x0fWatchExecutions\x12 .jobop.v1.WatchExecutionsRequest\x1a!.jobop.v1.WatchExecutionsResponse"\x13\x82\xd3\xe4\x93\x02\r\x12\x0b/api/events0\x01\x12V\n\x0fListAuditEvents\x12 .jobop.v1.ListAuditEventsRequest\x1a!.jobop.v1.ListAuditEventsResponseb\x06proto3')
_globals = globals()
_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _globals)
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'jobop.v1.job_operator_pb2', _globals)
if not _descriptor._USE_C_DESCRIPTORS:
    DESCRIPTOR._loaded_options = None
    _globals['_JOBEXECUTION_PARAMETERSENTRY']._loaded_options = None
    _globals['_JOBEXECUTION_PARAMETERSENTRY']._serialized_options = b'8\x01'
    _globals['_STARTREQUEST_PARAMETERSENTRY']._loaded_options = None
    _globals['_STARTREQUEST_PARAMETERSENTRY']._serialized_options = b'8\x01'
    _globals['_GETSTEPEXECUTIONSUMMARIESRESPONSE_SUMMARIESENTRY']._loaded_options = None
    _globals['_GETSTEPEXECUTIONSUMMARIESRESPONSE_SUMMARIESENTRY']._serialized_options = b'8\x01'
    _globals['_GETPARAMETERSRESPONSE_PARAMETERSENTRY']._loaded_options = None
    _globals['_GETPARAMETERSRESPONSE_PARAMETERSENTRY']._serialized_options = b'8\x01'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Start']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Start']._serialized_options = b'\x82\xd3\xe4\x93\x02\x1f"\x1a/api/jobs/{job_name}/start:\x01*'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['StartNextInstance']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['StartNextInstance']._serialized_options = b'\x82\xd3\xe4\x93\x02\x1e"\x19/api/jobs/{job_name}/next:\x01*'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Stop']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Stop']._serialized_options = b'\x82\xd3\xe4\x93\x02("#/api/executions/{execution_id}/stop:\x01*'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Restart']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Restart']._serialized_options = b'\x82\xd3\xe4\x93\x02+"&/api/executions/{execution_id}/restart:\x01*'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Abandon']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Abandon']._serialized_options = b'\x82\xd3\xe4\x93\x02+"&/api/executions/{execution_id}/abandon:\x01*'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Recover']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['Recover']._serialized_options = b'\x82\xd3\xe4\x93\x02+"&/api/executions/{execution_id}/recover:\x01*'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetRunningExecutions']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetRunningExecutions']._serialized_options = b'\x82\xd3\xe4\x93\x02(\x12&/api/jobs/{job_name}/runningExecutions'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetSummary']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetSummary']._serialized_options = b'\x82\xd3\xe4\x93\x02(\x12&/api/executions/{execution_id}/summary'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetStepExecutionSummaries']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetStepExecutionSummaries']._serialized_options = b'\x82\xd3\xe4\x93\x02.\x12,/api/executions/{execution_id}/stepSummaries'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetJobNames']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetJobNames']._serialized_options = b'\x82\xd3\xe4\x93\x02\x0b\x12\t/api/jobs'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetParameters']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetParameters']._serialized_options = b'\x82\xd3\xe4\x93\x02+\x12)/api/executions/{execution_id}/parameters'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetJobExecution']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['GetJobExecution']._serialized_options = b'\x82\xd3\xe4\x93\x02 \x12\x1e/api/executions/{execution_id}'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['ListJobInstances']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['ListJobInstances']._serialized_options = b'\x82\xd3\xe4\x93\x02 \x12\x1e/api/jobs/{job_name}/instances'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['ListJobExecutions']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['ListJobExecutions']._serialized_options = b'\x82\xd3\xe4\x93\x02P\x12\x1f/api/jobs/{job_name}/executionsZ-\x12+/api/instances/{job_instance_id}/executions'
    _globals['_JOBOPERATORSERVICE'].methods_by_name['WatchExecution']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['WatchExecution']._serialized_options = b"\x82\xd3\xe4\x93\x02'\x12%/api/executions/{execution_id}/events"
    _globals['_JOBOPERATORSERVICE'].methods_by_name['WatchExecutions']._loaded_options = None
    _globals['_JOBOPERATORSERVICE'].methods_by_name['WatchExecutions']._serialized_options = b'\x82\xd3\xe4\x93\x02\r\x12\x0b/api/events'
    _globals['_BATCHSTATUS']._serialized_start = 4346
    _globals['_BATCHSTATUS']._serialized_end = 4602
    _globals['_EXITSTATUS']._serialized_start = 104
    _globals['_EXITSTATUS']._serialized_end = 161
    _globals['_JOBPARAMETER']._serialized_start = 164
    _globals['_JOBPARAMETER']._serialized_end = 371
    _globals['_JOBINSTANCE']._serialized_start = 373
    _globals['_JOBINSTANCE']._serialized_end = 450
    _globals['_STEPEXECUTION']._serialized_start = 453
    _globals['_STEPEXECUTION']._serialized_end = 1005
    _globals['_JOBEXECUTION']._serialized_start = 1008
    _globals['_JOBEXECUTION']._serialized_end = 1554
    _globals['_JOBEXECUTION_PARAMETERSENTRY']._serialized_start = 1481
    _globals['_JOBEXECUTION_PARAMETERSENTRY']._serialized_end = 1554
    _globals['_STARTREQUEST']._serialized_start = 1557
    _globals['_STARTREQUEST']._serialized_end = 1744
    _globals['_STARTREQUEST_PARAMETERSENTRY']._serialized_start = 1481
    _globals['_STARTREQUEST_PARAMETERSENTRY']._serialized_end = 1554
    _globals['_STARTRESPONSE']._serialized_start = 1746
    _globals['_STARTRESPONSE']._serialized_end = 1804
    _globals['_STARTNEXTINSTANCEREQUEST']._serialized_start = 1806
    _globals['_STARTNEXTINSTANCEREQUEST']._serialized_end = 1870
    _globals['_STARTNEXTINSTANCERESPONSE']._serialized_start = 1872
    _globals['_STARTNEXTINSTANCERESPONSE']._serialized_end = 1942
    _globals['_STOPREQUEST']._serialized_start = 1944
    _globals['_STOPREQUEST']._serialized_end = 1979
    _globals['_STOPRESPONSE']._serialized_start = 1981
    _globals['_STOPRESPONSE']._serialized_end = 2038
    _globals['_RESTARTREQUEST']._serialized_start = 2040
    _globals['_RESTARTREQUEST']._serialized_end = 2098
    _globals['_RESTARTRESPONSE']._serialized_start = 2100
    _globals['_RESTARTRESPONSE']._serialized_end = 2160
    _globals['_ABANDONREQUEST']._serialized_start = 2162
    _globals['_ABANDONREQUEST']._serialized_end = 2200
    _globals['_ABANDONRESPONSE']._serialized_start = 2202
    _globals['_ABANDONRESPONSE']._serialized_end = 2262
    _globals['_RECOVERREQUEST']._serialized_start = 2264
    _globals['_RECOVERREQUEST']._serialized_end = 2317
    _globals['_RECOVERRESPONSE']._serialized_start = 2319
    _globals['_RECOVERRESPONSE']._serialized_end = 2379
    _globals['_GETRUNNINGEXECUTIONSREQUEST']._serialized_start = 2381
    _globals['_GETRUNNINGEXECUTIONSREQUEST']._serialized_end = 2428
    _globals['_GETRUNNINGEXECUTIONSRESPONSE']._serialized_start = 2430
    _globals['_GETRUNNINGEXECUTIONSRESPONSE']._serialized_end = 2483
    _globals['_GETSUMMARYREQUEST']._serialized_start = 2485
    _globals['_GETSUMMARYREQUEST']._serialized_end = 2526
    _globals['_GETSUMMARYRESPONSE']._serialized_start = 2528
    _globals['_GETSUMMARYRESPONSE']._serialized_end = 2565
    _globals['_GETSTEPEXECUTIONSUMMARIESREQUEST']._serialized_start = 2567
    _globals['_GETSTEPEXECUTIONSUMMARIESREQUEST']._serialized_end = 2623
    _globals['_GETSTEPEXECUTIONSUMMARIESRESPONSE']._serialized_start = 2626
    _globals['_GETSTEPEXECUTIONSUMMARIESRESPONSE']._serialized_end = 2790
    _globals['_GETSTEPEXECUTIONSUMMARIESRESPONSE_SUMMARIESENTRY']._serialized_start = 2742
    _globals['_GETSTEPEXECUTIONSUMMARIESRESPONSE_SUMMARIESENTRY']._serialized_end = 2790
    _globals['_GETJOBNAMESREQUEST']._serialized_start = 2792
    _globals['_GETJOBNAMESREQUEST']._serialized_end = 2812
    _globals['_GETJOBNAMESRESPONSE']._serialized_start = 2814
    _globals['_GETJOBNAMESRESPONSE']._serialized_end = 2854
    _globals['_GETPARAMETERSREQUEST']._serialized_start = 2856
    _globals['_GETPARAMETERSREQUEST']._serialized_end = 2900
    _globals['_GETPARAMETERSRESPONSE']._serialized_start = 2903
    _globals['_GETPARAMETERSRESPONSE']._serialized_end = 3070
    _globals['_GETPARAMETERSRESPONSE_PARAMETERSENTRY']._serialized_start = 1481
    _globals['_GETPARAMETERSRESPONSE_PARAMETERSENTRY']._serialized_end = 1554
    _globals['_GETJOBEXECUTIONREQUEST']._serialized_start = 3072
    _globals['_GETJOBEXECUTIONREQUEST']._serialized_end = 3118
    _globals['_GETJOBEXECUTIONRESPONSE']._serialized_start = 3120
    _globals['_GETJOBEXECUTIONRESPONSE']._serialized_end = 3188
    _globals['_LISTJOBINSTANCESREQUEST']._serialized_start = 3190
    _globals['_LISTJOBINSTANCESREQUEST']._serialized_end = 3272
    _globals['_LISTJOBINSTANCESRESPONSE']._serialized_start = 3274
    _globals['_LISTJOBINSTANCESRESPONSE']._serialized_end = 3371
    _globals['_LISTJOBEXECUTIONSREQUEST']._serialized_start = 3373
    _globals['_LISTJOBEXECUTIONSREQUEST']._serialized_end = 3481
    _globals['_LISTJOBEXECUTIONSRESPONSE']._serialized_start = 3483
    _globals['_LISTJOBEXECUTIONSRESPONSE']._serialized_end = 3579
    _globals['_WATCHEXECUTIONREQUEST']._serialized_start = 3581
    _globals['_WATCHEXECUTIONREQUEST']._serialized_end = 3649
    _globals['_WATCHEXECUTIONRESPONSE']._serialized_start = 3651
    _globals['_WATCHEXECUTIONRESPONSE']._serialized_end = 3737
    _globals['_WATCHEXECUTIONSREQUEST']._serialized_start = 3739
    _globals['_WATCHEXECUTIONSREQUEST']._serialized_end = 3781
    _globals['_WATCHEXECUTIONSRESPONSE']._serialized_start = 3783
    _globals['_WATCHEXECUTIONSRESPONSE']._serialized_end = 3870
    _globals['_LISTAUDITEVENTSREQUEST']._serialized_start = 3872
    _globals['_LISTAUDITEVENTSREQUEST']._serialized_end = 3996
    _globals['_AUDITEVENT']._serialized_start = 3999
    _globals['_AUDITEVENT']._serialized_end = 4253
    _globals['_LISTAUDITEVENTSRESPONSE']._serialized_start = 4255
    _globals['_LISTAUDITEVENTSRESPONSE']._serialized_end = 4343
    _globals['_JOBOPERATORSERVICE']._serialized_start = 4605
    _globals['_JOBOPERATORSERVICE']._serialized_end = 6755