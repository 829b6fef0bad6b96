/**
 * Command-line options for the bench's scripts: each script declares the options it knows.
 * `--help` (or `-h`) prints its usage and exits 0; an unknown option, a missing or malformed value
 * or a stray argument prints what is wrong and exits 2, before anything starts.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { basename } from 'node:path';

/**
 * `options`: { name: { type: 'boolean' | 'string' | 'number', integer?, min?, choices?,
 * required? } }. Returns { name: value } for the options given (numbers as numbers).
 * `usage`: the text `--help` prints.
 */
export function parseArgs(argv, { usage, options }) {
  const script = basename(process.argv[1] ?? 'bench');
  const fail = (message) => usageError(`${script}: ${message}`);
  const config = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(options)) {
    config[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  }
  let values;
  try {
    ({ values } = parseNodeArgs({ args: argv, options: config, strict: true }));
  } catch (error) {
    if (error?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      fail(`unknown option ${/'([^']+)'/.exec(error.message)?.[1] ?? error.message}`);
    }
    if (error?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      fail(`unexpected argument ${/'([^']*)'/.exec(error.message)?.[1] ?? error.message}`);
    }
    fail(error?.message ?? String(error));
  }
  if (values.help) {
    process.stdout.write(`${usage.trim()}\n`);
    process.exit(0);
  }
  const out = {};
  for (const [name, spec] of Object.entries(options)) {
    const raw = values[name];
    if (raw === undefined) {
      if (spec.required) fail(`--${name} is required`);
      continue;
    }
    if (spec.type === 'number') {
      const value = raw.trim() === '' ? NaN : Number(raw);
      const kind = spec.integer ? 'a whole number' : 'a number';
      if (!Number.isFinite(value) || (spec.integer && !Number.isInteger(value))) {
        fail(`--${name} must be ${kind}, got '${raw}'`);
      }
      if (spec.min !== undefined && value < spec.min) {
        fail(`--${name} must be ${kind} ≥ ${spec.min}, got '${raw}'`);
      }
      out[name] = value;
    } else {
      if (spec.choices && !spec.choices.includes(raw)) {
        fail(`--${name} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
      }
      out[name] = raw;
    }
  }
  return out;
}

/** Prints `message` and a pointer to --help on stderr, then exits 2 (a usage error). */
export function usageError(message) {
  process.stderr.write(`${message}\nRun with --help for the options.\n`);
  process.exit(2);
}
