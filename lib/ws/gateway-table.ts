/**
 * The policies of WebSocket gateways, grouped by the server that handshakes for them, and the one
 * handshake decision. Pure: no Nest, no socket library. Immutable: a live origin update builds a
 * new table with the new policies (`withPolicies`), as it does for the route table.
 *
 * Browsers apply no CORS to WebSockets: the handshake's `Origin` is the only defence against
 * cross-site WebSocket hijacking. A handshake is therefore an origin decision, made by the same
 * compiled policies as HTTP requests, with two differences: a refused origin is always refused
 * (there is no "run it, hide the answer"), and `enforce` decides handshakes without `Origin`.
 */
import { CorsDenial, type CorsPolicy, type OriginVerdict } from '../engine/cors-policy.js';

/** One `@WebSocketGateway()` class with its effective policy. */
export interface GatewayEntry {
  /** The gateway class name. */
  readonly name: string;
  /** Its own port, or 0: the application's HTTP server. */
  readonly port: number;
  /** The `path` option (undefined: the adapter's default). */
  readonly path: string | undefined;
  /** The Socket.IO `namespace` option (undefined: the main namespace). */
  readonly namespace: unknown;
  /** null: CORS is off for this gateway (`@Cors(false)`, or `routes: 'decorated'`). */
  readonly policy: CorsPolicy | null;
  /** Where the policy comes from (`module`, `policy "live"`, `ChatGateway`). */
  readonly source: string;
}

/** The gateways a connection reaches: each one gets it, so each must allow it. */
export interface HandshakeGroup {
  readonly gateways: readonly GatewayEntry[];
}

/** What a handshake was answered. */
export type HandshakeVerdict =
  | {
      readonly allowed: true;
      /** The policy whose headers an HTTP transport answer carries (none: CORS off). */
      readonly policy: CorsPolicy | null;
      /** Its `Access-Control-Allow-Origin`, or a denial when no header is due (same-origin…). */
      readonly verdict: OriginVerdict;
    }
  | {
      readonly allowed: false;
      readonly reason: string;
      readonly gateway: string;
      /** Where the refusing policy comes from (`module`, `policy "live"`, …). */
      readonly source: string;
    };

/** What the handshake decision reads of a request. */
export interface HandshakeRequest {
  readonly origin: string | undefined;
  /** Is `origin` the origin of the request itself (its scheme and `Host`)? */
  readonly sameOrigin: boolean;
  /** Handed to origin functions. */
  readonly request: object;
}

const NO_HEADERS = new CorsDenial('no CORS headers are due');
const OFF: HandshakeVerdict = { allowed: true, policy: null, verdict: NO_HEADERS };
const NO_ORIGIN_ENFORCED = 'the handshake has no Origin header and the policy enforces';

/** Where a WebSocket server listens: its port (0: the app's server) and path. */
export function serverKey(port: number, path: string | undefined): string {
  return `${port} ${path ?? ''}`;
}

/** One server's namespaces and their groups, and all of them in order (built once). */
interface ServerGroups {
  readonly byNamespace: ReadonlyMap<unknown, HandshakeGroup>;
  readonly all: readonly HandshakeGroup[];
}

export class GatewayTable {
  private constructor(
    readonly gateways: readonly GatewayEntry[],
    /** server key → its namespaces (undefined: the main one) and their groups. */
    private readonly servers: ReadonlyMap<string, ServerGroups>,
  ) {}

  static build(gateways: readonly GatewayEntry[]): GatewayTable {
    const servers = new Map<string, Map<unknown, GatewayEntry[]>>();
    for (const gateway of gateways) {
      const key = serverKey(gateway.port, gateway.path);
      let namespaces = servers.get(key);
      if (namespaces === undefined) servers.set(key, (namespaces = new Map()));
      const namespace = normalizeNamespace(gateway.namespace);
      namespaces.set(namespace, [...(namespaces.get(namespace) ?? []), gateway]);
    }
    const groups = new Map<string, ServerGroups>();
    for (const [key, namespaces] of servers) {
      const byNamespace = new Map(
        [...namespaces].map(([ns, list]) => [ns, Object.freeze({ gateways: list })]),
      );
      groups.set(
        key,
        Object.freeze({ byNamespace, all: Object.freeze([...byNamespace.values()]) }),
      );
    }
    return new GatewayTable(Object.freeze([...gateways]), groups);
  }

  /** The same gateways, each policy replaced by `replace.get(policy)` when it has one. */
  withPolicies(replace: ReadonlyMap<CorsPolicy, CorsPolicy>): GatewayTable {
    return GatewayTable.build(
      this.gateways.map((g) => {
        const policy = g.policy === null ? null : (replace.get(g.policy) ?? g.policy);
        return policy === g.policy ? g : { ...g, policy };
      }),
    );
  }

  /** The gateways on one server and namespace (a `ws` server: the main namespace). */
  group(key: string, namespace?: unknown): HandshakeGroup | undefined {
    return this.servers.get(key)?.byNamespace.get(normalizeNamespace(namespace));
  }

  /** Every namespace's group on one server (what a Socket.IO server's HTTP transport serves). */
  groupsAt(key: string): readonly HandshakeGroup[] {
    return this.servers.get(key)?.all ?? NO_GROUPS;
  }
}

const NO_GROUPS: readonly HandshakeGroup[] = Object.freeze([]);

/** `'chat'` and `'/chat'` are one Socket.IO namespace; `'/'` is the main one. */
function normalizeNamespace(namespace: unknown): unknown {
  if (typeof namespace !== 'string') return namespace;
  const slashed = namespace.startsWith('/') ? namespace : `/${namespace}`;
  return slashed === '/' ? undefined : slashed;
}

/**
 * A handshake reaching every gateway of `group`: allowed when each gateway's policy allows it.
 * No `Origin` (a non-browser client) is allowed unless a policy enforces; a same-origin handshake
 * is always allowed; a cross-origin one needs the origin allowed, whatever `enforce` says.
 */
export function decideHandshake(
  group: HandshakeGroup | undefined,
  request: HandshakeRequest,
): HandshakeVerdict | Promise<HandshakeVerdict> {
  const gateways = group?.gateways ?? [];
  let first: HandshakeVerdict = OFF;
  for (let i = 0; i < gateways.length; i++) {
    const { policy, name, source } = gateways[i];
    if (policy === null) continue;
    if (request.origin === undefined || request.sameOrigin) {
      if (request.origin === undefined && policy.enforce) {
        return { allowed: false, reason: NO_ORIGIN_ENFORCED, gateway: name, source };
      }
      if (first === OFF) first = { allowed: true, policy, verdict: NO_HEADERS };
      continue;
    }
    const checked = policy.checkOrigin(request.origin, request.request);
    if (checked instanceof Promise) {
      return settleFrom(gateways, i, checked, first, request);
    }
    if (checked instanceof CorsDenial)
      return { allowed: false, reason: checked.reason, gateway: name, source };
    if (first === OFF) first = { allowed: true, policy, verdict: checked };
  }
  return first;
}

/** The rest of `decideHandshake` once an origin function answers asynchronously. */
async function settleFrom(
  gateways: readonly GatewayEntry[],
  index: number,
  pending: Promise<OriginVerdict>,
  first: HandshakeVerdict,
  request: HandshakeRequest,
): Promise<HandshakeVerdict> {
  const settled = await pending;
  const { policy, name, source } = gateways[index];
  if (settled instanceof CorsDenial)
    return { allowed: false, reason: settled.reason, gateway: name, source };
  const rest = await decideHandshake({ gateways: gateways.slice(index + 1) }, request);
  if (!rest.allowed) return rest;
  return first !== OFF ? first : { allowed: true, policy, verdict: settled };
}

/**
 * A Socket.IO server's HTTP transport (long-polling, and the upgrade to WebSocket) before any
 * namespace is known: allowed when the gateways of at least one namespace allow the handshake,
 * answered with the headers of the first such namespace's policy. The namespace's own check
 * comes when the client joins it.
 */
export async function decideTransport(
  groups: readonly HandshakeGroup[],
  request: HandshakeRequest,
): Promise<HandshakeVerdict> {
  let refusal: HandshakeVerdict | undefined;
  for (const group of groups) {
    const verdict = await decideHandshake(group, request);
    if (verdict.allowed) return verdict;
    refusal ??= verdict;
  }
  return refusal ?? OFF;
}
