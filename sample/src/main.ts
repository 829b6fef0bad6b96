/**
 * `npm start`: the sample API and the playground page, until Ctrl-C. On Express by default;
 * `npm start -- --fastify` (or `ADAPTER=fastify npm start`) runs the same app on Fastify.
 */
import { SAMPLE_ADAPTERS, startSample, type SampleAdapter } from './sample.js';

/** `--fastify`, `--express` or `--adapter=<name>`; else the ADAPTER variable; else Express. */
const adapterOf = (args: string[]): SampleAdapter => {
  let chosen = process.env.ADAPTER || 'express';
  for (const arg of args) {
    const name = arg.startsWith('--adapter=') ? arg.slice('--adapter='.length) : arg.slice(2);
    if (!arg.startsWith('--') || !(SAMPLE_ADAPTERS as readonly string[]).includes(name)) {
      console.error(`Unknown argument ${arg}: use --express, --fastify or --adapter=<name>`);
      process.exit(1);
    }
    chosen = name;
  }
  if (!(SAMPLE_ADAPTERS as readonly string[]).includes(chosen)) {
    console.error(`ADAPTER must be ${SAMPLE_ADAPTERS.join(' or ')}, got ${chosen}`);
    process.exit(1);
  }
  return chosen as SampleAdapter;
};

const port = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Error(`${name} must be a port number, got ${process.env[name]}`);
  }
  return value;
};

const adapter = adapterOf(process.argv.slice(2));
const apiPort = port('API_PORT', 3000);
const playgroundPort = port('PLAYGROUND_PORT', 8080);
const sample = await startSample({ adapter, apiPort, playgroundPort }).catch((error: unknown) => {
  const { code, port: busy } = error as { code?: string; port?: number };
  if (code !== 'EADDRINUSE') throw error;
  const name = busy === playgroundPort ? 'PLAYGROUND_PORT' : 'API_PORT';
  console.error(
    `Port ${busy} is already in use: choose another one, e.g. ${name}=${busy! + 1} npm start`,
  );
  process.exit(1);
});

console.log(`
  Sample API   ${sample.apiUrl}   (on ${sample.adapter === 'fastify' ? 'Fastify' : 'Express'})
  Playground   ${sample.playgroundUrl}   <- open this in a browser

  Ctrl-C stops both.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    sample.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
