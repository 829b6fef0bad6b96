/** `npm start`: the sample API and the playground page, until Ctrl-C. */
import { startSample } from './sample.js';

const port = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Error(`${name} must be a port number, got ${process.env[name]}`);
  }
  return value;
};

const apiPort = port('API_PORT', 3000);
const playgroundPort = port('PLAYGROUND_PORT', 8080);
const sample = await startSample({ apiPort, playgroundPort }).catch((error: unknown) => {
  const { code, port: busy } = error as { code?: string; port?: number };
  if (code !== 'EADDRINUSE') throw error;
  const name = busy === playgroundPort ? 'PLAYGROUND_PORT' : 'API_PORT';
  console.error(
    `Port ${busy} is already in use: choose another one, e.g. ${name}=${busy! + 1} npm start`,
  );
  process.exit(1);
});

console.log(`
  Sample API   ${sample.apiUrl}
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
