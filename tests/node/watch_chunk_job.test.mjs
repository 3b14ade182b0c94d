// A polyglot caller: drives a jobop server from Node.js with nothing but the .proto file
// (no generated code), as a service in another language would.
//
//   cd tests/node && npm ci && JOBOP_TARGET=127.0.0.1:50051 node --test
//
// Without JOBOP_TARGET only the proto checks run; the server tests are skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const protoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../protos');
const target = process.env.JOBOP_TARGET;
const timeoutMs = Number(process.env.JOBOP_TEST_TIMEOUT_MS ?? 60000);
const noServer = target ? false : 'JOBOP_TARGET is not set';

const RPCS = [
  'Start', 'StartNextInstance', 'Stop', 'Restart', 'Abandon', 'Recover',
  'GetRunningExecutions', 'GetSummary', 'GetStepExecutionSummaries', 'GetJobNames',
  'GetParameters', 'GetJobExecution', 'ListJobInstances', 'ListJobExecutions',
  'WatchExecution', 'WatchExecutions', 'ListAuditEvents', 'DescribeJobs',
  'CountJobExecutions', 'GetJobSettings', 'UpdateJobSettings', 'PauseJob', 'ResumeJob',
  'ListQueue', 'CreateSchedule', 'GetSchedule', 'ListSchedules', 'UpdateSchedule',
  'DeleteSchedule', 'PauseSchedule', 'ResumeSchedule', 'TriggerSchedule', 'ListScheduleFires',
  'PreviewSchedule', 'StartJobs', 'BulkStop', 'BulkAbandon', 'BulkRestart', 'BulkRecover',
  'GetBulkOperation', 'WatchBulkOperation', 'CancelBulkOperation',
];

function loadService() {
  const definition = protoLoader.loadSync('jobop/v1/job_operator.proto', {
    includeDirs: [protoRoot],
    keepCase: true, // field names as in the .proto: job_name, execution_id
    longs: String, // int64 ids and counters do not fit a JS number in general
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).jobop.v1.JobOperatorService;
}

// JOBOP_CA: connect with TLS trusting that PEM file; JOBOP_TOKEN: send it as a bearer
// token (the names jobctl reads too).
function connect() {
  const Service = loadService();
  const ca = process.env.JOBOP_CA;
  const channel = ca
    ? grpc.credentials.createSsl(fs.readFileSync(ca))
    : grpc.credentials.createInsecure();
  return new Service(target, channel);
}

function callMetadata() {
  const metadata = new grpc.Metadata();
  if (process.env.JOBOP_TOKEN) metadata.set('authorization', `Bearer ${process.env.JOBOP_TOKEN}`);
  return metadata;
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    client[method](request, callMetadata(), { deadline }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}

// Collects WatchExecution's snapshots until the server ends the stream.
function watch(client, executionId) {
  return new Promise((resolve, reject) => {
    const snapshots = [];
    const deadline = new Date(Date.now() + timeoutMs);
    const call = client.WatchExecution(
      { execution_id: executionId, after_version: '0' }, callMetadata(), { deadline });
    call.on('data', (response) => {
      if (!response.heartbeat && response.execution) snapshots.push(response.execution);
    });
    call.on('error', reject);
    call.on('end', () => resolve(snapshots));
  });
}

test('the proto loads with only protos/ on the include path', () => {
  const Service = loadService();
  const methods = Service.service;
  assert.deepEqual(Object.keys(methods).sort(), [...RPCS].sort());
  assert.equal(methods.WatchExecution.responseStream, true);
  assert.equal(methods.WatchExecutions.responseStream, true);
  assert.equal(methods.Start.path, '/jobop.v1.JobOperatorService/Start');
  assert.equal(methods.Start.responseStream, false);
});

test('demoChunkJob with items=20 runs to COMPLETED and GetSummary reads it', { skip: noServer }, async () => {
  const client = connect();
  try {
    const { execution } = await unary(client, 'Start', {
      job_name: 'demoChunkJob',
      parameters: {
        items: { long_value: '20' },
        // A fresh instance per run, so that the test can run again against the same server.
        'run.id': { long_value: String(Date.now()) },
      },
    });
    assert.ok(Number(execution.id) > 0, `unexpected execution id ${execution.id}`);

    const snapshots = await watch(client, execution.id);
    assert.ok(snapshots.length > 0, 'the stream sent no snapshot');
    const versions = snapshots.map((s) => BigInt(s.version));
    versions.forEach((v, i) => assert.ok(i === 0 || v > versions[i - 1], 'versions must grow'));
    const last = snapshots.at(-1);
    assert.equal(last.id, execution.id);
    assert.equal(last.status, 'BATCH_STATUS_COMPLETED');
    assert.equal(last.exit_status.exit_code, 'COMPLETED');
    const step = last.step_executions.find((s) => s.step_name === 'demoChunkStep');
    assert.ok(step, 'no demoChunkStep in the final snapshot');
    assert.equal(step.read_count, '20');
    assert.equal(step.write_count, '20');

    const { summary } = await unary(client, 'GetSummary', { execution_id: execution.id });
    assert.match(summary, new RegExp(`^JobExecution: id=${execution.id}, `));
    assert.match(summary, /status=COMPLETED/);
  } finally {
    client.close();
  }
});

test('errors carry NOT_FOUND and a google.rpc.Status trailer', { skip: noServer }, async () => {
  const client = connect();
  try {
    const error = await unary(client, 'GetJobExecution', { execution_id: '9007199254740993' }).then(
      () => assert.fail('an unknown execution id was accepted'),
      (e) => e,
    );
    assert.equal(error.code, grpc.status.NOT_FOUND);
    const details = error.metadata.get('grpc-status-details-bin');
    assert.equal(details.length, 1, 'no grpc-status-details-bin trailer');
    assert.match(details[0].toString('latin1'), /NO_SUCH_JOB_EXECUTION/);
  } finally {
    client.close();
  }
});
