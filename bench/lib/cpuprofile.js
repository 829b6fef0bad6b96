/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, grouped by
 * where the code lives (this library's dist/, @nestjs, express and its deps, Node core, V8).
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
  // Owner of a sample: the innermost frame that is not Node core or V8 (so `setHeader` called by
  // the library is the library's cost, and what runs inside its `next()` is not).
  const owners = new Map();
  const ownedBy = new Map(); // function key -> µs owned (innermost non-core frame)
  for (const [id, us] of self) {
    let owner = null;
    let ownerKey = null;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      const cat = category(n.callFrame.url, n.callFrame.functionName);
      if (cat === 'gc' || cat === 'idle') {
        owner = cat;
        break;
      }
      if (cat === 'node core' || cat === 'v8/native') continue;
      owner = cat;
      ownerKey = key(n);
      break;
    }
    owner ??= 'node core / V8 (event loop, sockets)';
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    if (ownerKey !== null) ownedBy.set(ownerKey, (ownedBy.get(ownerKey) ?? 0) + us);
  }
  for (const [k, us] of ownedBy) fns.get(k).ownedUs = us;
  const busy = total - idle;
  const cats = new Map();
  for (const f of fns.values()) cats.set(f.category, (cats.get(f.category) ?? 0) + f.selfUs);
  const pct = (us) => (busy > 0 ? (us / busy) * 100 : 0);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
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
