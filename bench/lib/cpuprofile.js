/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, grouped by
 * where the code lives (this library's dist/, @nestjs, express, fastify and their deps, Node
 * core, V8); and a V8 sampling heap profile (`summarizeAllocations`): bytes allocated per
 * function, grouped the same way.
 */
import { readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).href; // file:///…/repo/

export function category(url, functionName) {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'v8/native';
    return 'v8/native';
  }
  if (url.startsWith('node:')) return 'node core';
  if (url.startsWith(`${ROOT}dist/`)) return 'lib (nestjs-cors)';
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1].startsWith('@nestjs/') ? 'nest' : nm[1];
  if (url.startsWith(`${ROOT}bench/`)) return 'bench app';
  return 'other';
}

/**
 * The library's own dependencies: what they run when the library calls them is the library's
 * cost ("lib (nestjs-cors) → find-my-way"); Fastify calls find-my-way too (its router), which
 * stays "find-my-way".
 */
const LIB_DEPS = new Set(['find-my-way', 'on-headers', 'parseurl', 'path-to-regexp']);

const LIB = 'lib (nestjs-cors)';

/** Native functions that write to a socket (their self time is the syscall). */
const SOCKET_WRITES = new Set([
  'writev',
  'writeBuffer',
  'writeUtf8String',
  'writeLatin1String',
  'writeAsciiString',
  'writeUcs2String',
]);

/**
 * The owner of a sample (a stack, innermost first, as frames { url, functionName }): the
 * innermost frame that is not Node core or V8 (so `setHeader` called by the library is the
 * library's cost, and what runs inside its `next()` is not); a library dependency called by the
 * library is the library's. Returns { owner, index } (index of the owning frame, or -1).
 */
function ownerOf(frames) {
  for (let i = 0; i < frames.length; i++) {
    const cat = category(frames[i].url, frames[i].functionName);
    if (cat === 'gc' || cat === 'idle') return { owner: cat, index: -1 };
    if (cat === 'node core' || cat === 'v8/native') continue;
    if (LIB_DEPS.has(cat)) {
      // Up the stack past this package (and Node/V8): is its caller the library?
      for (let j = i + 1; j < frames.length; j++) {
        const up = category(frames[j].url, frames[j].functionName);
        if (up === cat || up === 'node core' || up === 'v8/native') continue;
        if (up === LIB) return { owner: `${LIB} → ${cat}`, index: i };
        break;
      }
    }
    return { owner: cat, index: i };
  }
  return { owner: 'node core / V8 (event loop, sockets)', index: -1 };
}

function shortUrl(url) {
  if (url.startsWith(ROOT)) return url.slice(ROOT.length).replace(/^node_modules\//, '');
  return url;
}

/** { totalMs, byCategory: [{category, ms, pct}], functions: [{name, where, category, selfMs, selfPct, totalMs, totalPct}] } */
export function summarize(path, window = {}) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  // Sample timestamps are CLOCK_MONOTONIC µs, like process.hrtime() in any process: `window`
  // ({ fromUs, toUs }) keeps only the samples taken under load (boot excluded).
  const from = window.fromUs ?? -Infinity;
  const to = window.toUs ?? Infinity;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < from || t > to) continue;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  // Parent links, for inclusive time.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => {
    const f = n.callFrame;
    return `${f.functionName || '(anonymous)'}\u0000${f.url}:${f.lineNumber + 1}`;
  };
  const fns = new Map();
  let total = 0;
  let idle = 0;
  for (const n of profile.nodes) {
    const us = self.get(n.id) ?? 0;
    total += us;
    if (n.callFrame.functionName === '(idle)') idle += us;
    const k = key(n);
    let f = fns.get(k);
    if (f === undefined) {
      f = {
        name: n.callFrame.functionName || '(anonymous)',
        where: n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '',
        category: category(n.callFrame.url, n.callFrame.functionName),
        selfUs: 0,
        totalUs: 0,
      };
      fns.set(k, f);
    }
    f.selfUs += us;
  }
  // Inclusive: add each sample's time to every distinct function on its stack.
  for (const [id, us] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      fns.get(k).totalUs += us;
    }
  }
  // Owner of a sample: see ownerOf().
  const owners = new Map();
  const ownedBy = new Map(); // function key -> µs owned (innermost non-core frame)
  for (const [id, us] of self) {
    const stack = [];
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur));
    const { owner, index } = ownerOf(stack.map((n) => n.callFrame));
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    if (index >= 0) {
      const ownerKey = key(stack[index]);
      ownedBy.set(ownerKey, (ownedBy.get(ownerKey) ?? 0) + us);
    }
  }
  for (const [k, us] of ownedBy) fns.get(k).ownedUs = us;
  const busy = total - idle;
  // The socket writes (native, in the kernel: loopback TCP, the receiving side included): their
  // cost per request varies between two runs by several µs, more than most differences sought.
  let socketWrite = 0;
  for (const f of fns.values()) {
    if (f.where === '' && SOCKET_WRITES.has(f.name)) socketWrite += f.selfUs;
  }
  const cats = new Map();
  for (const f of fns.values()) cats.set(f.category, (cats.get(f.category) ?? 0) + f.selfUs);
  const pct = (us) => (busy > 0 ? (us / busy) * 100 : 0);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    socketWriteMs: socketWrite / 1000,
    byCategory: [...cats]
      .filter(([c]) => c !== 'idle')
      .map(([c, us]) => ({ category: c, ms: us / 1000, pct: pct(us) }))
      .sort((a, b) => b.ms - a.ms),
    byOwner: [...owners]
      .filter(([c]) => c !== 'idle')
      .map(([c, us]) => ({ owner: c, ms: us / 1000, pct: pct(us) }))
      .sort((a, b) => b.ms - a.ms),
    functions: [...fns.values()]
      .filter((f) => f.category !== 'idle')
      .map((f) => ({
        name: f.name,
        where: f.where,
        category: f.category,
        selfMs: f.selfUs / 1000,
        selfPct: pct(f.selfUs),
        totalMs: f.totalUs / 1000,
        totalPct: pct(f.totalUs),
        ownedMs: (f.ownedUs ?? 0) / 1000,
        ownedPct: pct(f.ownedUs ?? 0),
      }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

/**
 * Text report: time by owner and by category; top functions by self time overall, in lib, in
 * Nest; lib functions by owned time (self + the Node/V8 work they call, not their `next()`).
 */
export function formatSummary(s, { top = 20 } = {}) {
  const lines = [];
  const row = (f) =>
    `  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.ownedPct.toFixed(1).padStart(5)}%  ${f.totalPct.toFixed(1).padStart(5)}%  ${f.name.slice(0, 36).padEnd(36)} ${f.where}`;
  const header = '   self%  owned%  total%  function                             where';
  lines.push(
    `busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled (percentages are of busy time)`,
  );
  lines.push(
    'time by owner (innermost frame outside Node core/V8; what a package costs with the Node work it calls):',
  );
  for (const c of s.byOwner.slice(0, 14))
    lines.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${c.owner}`);
  lines.push('self time by category:');
  for (const c of s.byCategory.slice(0, 10))
    lines.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${c.category}`);
  lines.push(`top ${top} functions by self time:`, header);
  for (const f of s.functions.slice(0, top)) lines.push(row(f));
  const lib = s.functions.filter((f) => f.category === 'lib (nestjs-cors)');
  lines.push('lib (nestjs-cors) functions by owned time:', header);
  for (const f of [...lib].sort((a, b) => b.ownedMs - a.ownedMs).slice(0, top)) {
    if (f.ownedMs > 0 || f.selfMs > 0) lines.push(row(f));
  }
  const nest = s.functions.filter((f) => f.category === 'nest');
  lines.push('Nest functions by owned time:', header);
  for (const f of [...nest].sort((a, b) => b.ownedMs - a.ownedMs).slice(0, top)) {
    if (f.ownedMs > 0 || f.selfMs > 0) lines.push(row(f));
  }
  lines.push(
    '(self: in the function itself; owned: self + Node core/V8 callees; total: inclusive, includes what runs inside next())',
  );
  return lines.join('\n');
}

/**
 * Bytes allocated per request, from a V8 sampling heap profile taken with the collected objects
 * included (`apps/server.js --alloc-profile`): { bytes, perRequest, byOwner: [{ owner, bytes,
 * perRequest, pct }], functions: [{ name, where, category, owner, bytes, perRequest, pct }] }.
 * A function's bytes are those allocated in its own code or in the Node/V8 code it calls (its
 * owner is ownerOf() of the allocating stack).
 */
export function summarizeAllocations(path, requests) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const owners = new Map();
  const fns = new Map();
  let bytes = 0;
  const stack = [];
  const walk = (node) => {
    stack.unshift(node.callFrame);
    if (node.selfSize > 0) {
      bytes += node.selfSize;
      const { owner, index } = ownerOf(stack);
      owners.set(owner, (owners.get(owner) ?? 0) + node.selfSize);
      const f = index >= 0 ? stack[index] : { functionName: `(${owner})`, url: '', lineNumber: -1 };
      const k = `${f.functionName || '(anonymous)'}\u0000${f.url}:${f.lineNumber + 1}`;
      let e = fns.get(k);
      if (e === undefined) {
        e = {
          name: f.functionName || '(anonymous)',
          where: f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '',
          category: category(f.url, f.functionName),
          owner,
          bytes: 0,
        };
        fns.set(k, e);
      }
      e.bytes += node.selfSize;
    }
    for (const child of node.children ?? []) walk(child);
    stack.shift();
  };
  walk(profile.head);
  const per = (b) => (requests > 0 ? b / requests : NaN);
  const pct = (b) => (bytes > 0 ? (b / bytes) * 100 : 0);
  return {
    bytes,
    requests,
    perRequest: per(bytes),
    byOwner: [...owners]
      .map(([owner, b]) => ({ owner, bytes: b, perRequest: per(b), pct: pct(b) }))
      .sort((a, b) => b.bytes - a.bytes),
    functions: [...fns.values()]
      .map((f) => ({ ...f, perRequest: per(f.bytes), pct: pct(f.bytes) }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

/** Text report of summarizeAllocations(): bytes per request by owner and by function. */
export function formatAllocations(a, { top = 20 } = {}) {
  const lines = [
    `allocated: ${a.perRequest.toFixed(0)} bytes/request (${(a.bytes / 1e6).toFixed(1)} MB sampled over ${a.requests} requests; collected objects included)`,
    'bytes/request by owner (innermost frame outside Node core/V8):',
  ];
  for (const o of a.byOwner.slice(0, 14)) {
    lines.push(
      `  ${o.perRequest.toFixed(0).padStart(6)}  ${o.pct.toFixed(1).padStart(5)}%  ${o.owner}`,
    );
  }
  lines.push(`top ${top} allocating functions (bytes/request, with the Node/V8 code they call):`);
  for (const f of a.functions.slice(0, top)) {
    lines.push(
      `  ${f.perRequest.toFixed(0).padStart(6)}  ${f.name.slice(0, 36).padEnd(36)} ${f.where}`,
    );
  }
  const lib = a.functions.filter((f) => f.owner.startsWith(LIB));
  if (lib.length > 0) {
    lines.push('lib (nestjs-cors) allocating functions (bytes/request):');
    for (const f of lib.slice(0, top)) {
      lines.push(
        `  ${f.perRequest.toFixed(0).padStart(6)}  ${f.name.slice(0, 36).padEnd(36)} ${f.where}`,
      );
    }
  }
  return lines.join('\n');
}
