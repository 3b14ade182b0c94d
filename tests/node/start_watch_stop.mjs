// Start a job, watch it, stop it once it runs, and see the stream end with STOPPED.
// npm install @grpc/grpc-js @grpc/proto-loader; JOBOP_TARGET=host:50051 node start_watch_stop.mjs
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const definition = protoLoader.loadSync('jobop/v1/job_operator.proto', {
  includeDirs: [process.env.JOBOP_PROTOS ?? 'protos'], // the folder holding jobop/ and google/
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const { JobOperatorService } = grpc.loadPackageDefinition(definition).jobop.v1;
const client = new JobOperatorService(
  process.env.JOBOP_TARGET ?? '127.0.0.1:50051', grpc.credentials.createInsecure());
const call = (method, request) => new Promise((resolve, reject) =>
  client[method](request, (error, response) => (error ? reject(error) : resolve(response))));

// 1. Start: a tasklet that would run for a minute (run.id makes a new instance each time).
const { execution } = await call('Start', {
  job_name: 'demoTaskletJob',
  parameters: {
    durationMs: { long_value: '60000' },
    'run.id': { long_value: String(Date.now()) },
  },
});
console.log(`started execution ${execution.id}: ${execution.status}`);

// 2. Watch to the end: one snapshot per change; the stream ends once the job has ended.
const final = await new Promise((resolve, reject) => {
  let last = execution;
  let stopAsked = false;
  const stream = client.WatchExecution({ execution_id: execution.id, after_version: '0' });
  stream.on('data', ({ execution: snapshot, heartbeat }) => {
    if (heartbeat) return;
    last = snapshot;
    console.log(`execution ${snapshot.id}: ${snapshot.status}`);
    if (snapshot.status === 'BATCH_STATUS_STARTED' && !stopAsked) {
      stopAsked = true;
      // 3. Stop: the job sees it at its next check and ends STOPPED.
      call('Stop', { execution_id: snapshot.id }).then(
        ({ execution: stopping }) => console.log(`stop asked: ${stopping.status}`), reject);
    }
  });
  stream.on('error', reject);
  stream.on('end', () => resolve(last));
});
console.log(`execution ${final.id} ended ${final.status} (${final.exit_status.exit_code})`);
client.close();
