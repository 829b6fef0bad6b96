/**
 * The pure handshake decision and the gate before the module starts: without Nest, with real
 * compiled policies and a real `ws` server.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { CorsPolicy } from '../../lib/index.js';
import {
  decideHandshake,
  decideTransport,
  GatewayTable,
  serverKey,
  type GatewayEntry,
} from '../../lib/ws/gateway-table.js';
import { HandshakeGate } from '../../lib/ws/handshake-gate.js';
import { wsConnect } from './support.js';

const A = 'https://a.example';
const B = 'https://b.example';

function entry(name: string, policy: CorsPolicy | null, extra: Partial<GatewayEntry> = {}) {
  return { name, port: 0, path: '/ws', namespace: undefined, policy, source: name, ...extra };
}
const request = (origin: string | undefined, sameOrigin = false) => ({
  origin,
  sameOrigin,
  request: {},
});

describe('decideHandshake', () => {
  const onlyA = CorsPolicy.compile({ origin: [A] });
  const both = CorsPolicy.compile({ origin: [A, B] });
  const enforcing = CorsPolicy.compile({ origin: [A], enforce: true });

  it('needs every gateway of the group to allow a cross-origin handshake', async () => {
    const table = GatewayTable.build([entry('Wide', both), entry('Narrow', onlyA)]);
    const group = table.group(serverKey(0, '/ws'));
    expect(await decideHandshake(group, request(A))).toEqual({
      allowed: true,
      policy: both,
      verdict: A,
    });
    expect(await decideHandshake(group, request(B))).toEqual({
      allowed: false,
      reason: 'the Origin is not allowed by the policy',
      gateway: 'Narrow',
      source: 'Narrow',
    });
  });

  it('allows no Origin unless a policy enforces, and same-origin always', async () => {
    const group = GatewayTable.build([entry('G', enforcing)]).group(serverKey(0, '/ws'));
    expect((await decideHandshake(group, request(undefined))).allowed).toBe(false);
    expect((await decideHandshake(group, request(B, true))).allowed).toBe(true);
    const open = GatewayTable.build([entry('G', onlyA)]).group(serverKey(0, '/ws'));
    expect((await decideHandshake(open, request(undefined))).allowed).toBe(true);
  });

  it('skips gateways with CORS off, and waits for async origin functions', async () => {
    const asyncB = CorsPolicy.compile({ origin: async (o: string | undefined) => o === B });
    const group = GatewayTable.build([entry('Off', null), entry('Async', asyncB)]).group(
      serverKey(0, '/ws'),
    );
    const verdict = decideHandshake(group, request(B));
    expect(verdict).toBeInstanceOf(Promise);
    expect(await verdict).toEqual({ allowed: true, policy: asyncB, verdict: B });
    expect((await decideHandshake(group, request(A))).allowed).toBe(false);
  });

  it("lets the transport in when one namespace allows, with that namespace's policy", async () => {
    const table = GatewayTable.build([
      entry('Main', onlyA, { path: undefined }),
      entry('Partners', both, { path: undefined, namespace: 'partners' }),
    ]);
    const groups = table.groupsAt(serverKey(0, undefined));
    expect(groups).toHaveLength(2);
    expect(await decideTransport(groups, request(B))).toEqual({
      allowed: true,
      policy: both,
      verdict: B,
    });
    expect(table.group(serverKey(0, undefined), '/partners')).toBe(groups[1]);
    expect((await decideTransport(groups, request('https://c.example'))).allowed).toBe(false);
  });

  it('swaps policies without touching the table it came from', () => {
    const table = GatewayTable.build([entry('G', onlyA)]);
    const swapped = table.withPolicies(new Map([[onlyA, both]]));
    expect(swapped.gateways[0].policy).toBe(both);
    expect(table.gateways[0].policy).toBe(onlyA);
  });
});

describe('HandshakeGate', () => {
  let server: WebSocketServer | undefined;
  afterEach(async () => {
    server?.close();
    server = undefined;
  });

  it('refuses every handshake until it has a table, then decides by it', async () => {
    const errors: string[] = [];
    const gate = new HandshakeGate({ error: (line) => errors.push(line) });
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
    await once(server, 'listening');
    server.on('connection', (socket) => socket.on('message', (m) => socket.send(String(m))));
    gate.attach(server, 0, { path: '/ws' });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    expect(await wsConnect(url, A)).toEqual({ open: false, status: 403 });
    expect(await wsConnect(url, undefined)).toEqual({ open: false, status: 403 });
    gate.use(GatewayTable.build([entry('G', CorsPolicy.compile({ origin: [A] }))]));
    expect((await wsConnect(url, A)).open).toBe(true);
    expect(await wsConnect(url, B)).toEqual({ open: false, status: 403 });
    expect(gate.servers).toEqual([{ key: serverKey(0, '/ws'), namespace: undefined, kind: 'ws' }]);
    expect(errors).toEqual([]);
  });
});
