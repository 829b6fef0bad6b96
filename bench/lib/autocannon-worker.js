/**
 * A long-lived autocannon process (started pinned by load.js, driven over IPC): each message
 * { id, job } runs one load and answers { id, result: { rps, requests, non2xx, errors } }.
 * Loads may overlap (the parallel warm-up). Exits when its parent disconnects.
 */
import autocannon from 'autocannon';

async function runJob(job) {
  const result = await autocannon({
    url: job.url,
    method: job.method,
    headers: job.headers,
    connections: job.connections,
    duration: job.duration,
    pipelining: 1,
  });
  const seconds = result.duration || job.duration;
  return {
    rps: result.requests.total / seconds,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

process.on('message', ({ id, job }) => {
  runJob(job).then(
    (result) => process.send({ id, result }),
    (err) => process.send({ id, error: String(err?.stack ?? err) }),
  );
});
process.on('disconnect', () => process.exit(0));
