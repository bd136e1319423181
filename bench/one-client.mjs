// The ingest benchmark's one client (bench/ingest-loop.ts), in a process of its own, as an
// outside client is: apart from the stack it times, and from the benchmark's monitor, whose
// frame parsing would hold up its timings. One request at a time, each single-record upload
// right after a GET /health, bounded by the count and by the deadline.
// Plain JavaScript, so that it runs on node alone.
import { performance } from 'node:perf_hooks';

/** @param {{ httpUrl: string, token: string, bodies: string[], warmUpBodies: string[], timeoutMs: number }} job */
async function run({ httpUrl, token, bodies, warmUpBodies, timeoutMs }) {
  const deadline = Date.now() + timeoutMs;
  const signal = () => AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  const health = async () => {
    const response = await fetch(`${httpUrl}/health`, { signal: signal() });
    await response.text();
    if (response.status !== 200) throw new Error(`one client: /health answered ${response.status}`);
    return [];
  };
  const upload = async (body) => {
    const response = await fetch(`${httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      signal: signal(),
    });
    const text = await response.text();
    if (response.status !== 202) throw new Error(`one client: an upload answered ${response.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text).ids;
  };
  // Each upload follows a GET /health, so the two are timed over the same moments of the run.
  const pairs = async (what, uploadBodies) => {
    const floor = { latenciesMs: [], ids: [], wallMs: 0 };
    const uploads = { latenciesMs: [], ids: [], wallMs: 0 };
    for (const [i, body] of uploadBodies.entries()) {
      if (Date.now() > deadline) throw new Error(`one client: ${what} did not finish within ${timeoutMs / 1000} s (${i} of ${uploadBodies.length} pairs answered)`);
      for (const [into, call] of [[floor, health], [uploads, () => upload(body)]]) {
        const sent = performance.now();
        into.ids.push(...(await call()));
        const took = performance.now() - sent;
        into.latenciesMs.push(took);
        into.wallMs += took;
      }
    }
    return { floor, uploads };
  };
  // Untimed: this process's connections and code, and the stack's upload path, warm up first.
  const warmUp = await pairs('the warm-up', warmUpBodies);
  const { floor, uploads } = await pairs('the loop', bodies);
  return { warmUpIds: warmUp.uploads.ids, floor, uploads };
}

process.once('message', (job) => {
  run(job).then(
    (result) => process.send({ ok: true, ...result }, () => process.exit(0)),
    (error) => process.send({ ok: false, error: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
  );
});
