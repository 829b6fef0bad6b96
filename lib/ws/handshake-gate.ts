/**
 * Puts the gateway policies in front of every WebSocket server a gateway gets, through each
 * library's own hook, installed when the server is created (before it can accept anyone):
 *
 * - `ws` (`WsAdapter`): `verifyClient`. A refused handshake is answered 403; no connection.
 * - Socket.IO (`IoAdapter`): an Engine.IO middleware sees every HTTP request of the transport
 *   (long-polling requests, their preflights, the upgrade to WebSocket): it refuses with 403,
 *   answers preflights, and writes the policy's CORS headers on polling answers (this replaces
 *   Socket.IO's own `cors` option). A namespace middleware then checks the gateways of the
 *   namespace the client joins: refused, the client gets `connect_error`.
 *
 * Until the table is in (the servers of gateways on their own port listen before the module
 * starts), every handshake is refused: nothing connects unchecked.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { configProblem, gatewayPlace, type CorsConfigProblem } from '../engine/errors.js';
import { isSameOrigin } from '../engine/origin.js';
import { decidePreflight, singlePolicyRoute, writePreflightHeaders } from '../engine/preflight.js';
import { appendVary } from '../engine/vary.js';
import { beforeHeaders } from '../http/before-headers.js';
import {
  decideHandshake,
  decideTransport,
  serverKey,
  type GatewayTable,
  type HandshakeGroup,
  type HandshakeRequest,
  type HandshakeVerdict,
} from './gateway-table.js';
import type { GatewayRecord, GatewayServerOptions } from './nest-gateways.js';

/** Where denial lines go (`debug: true`), and where errors of the gate go. */
export interface GateLog {
  denial?: (line: string) => void;
  error: (line: string) => void;
}

/** A server the gate guards: which gateways' key it answers for, and how. */
export interface GuardedServer {
  readonly key: string;
  readonly namespace: unknown;
  readonly kind: 'ws' | 'socket.io' | 'socket.io namespace' | 'unknown';
  /**
   * A Socket.IO server created with its own `cors` option (by the gateway, or by an adapter's
   * `createIOServer`): its CORS middleware runs before the gate's, answering preflights itself.
   */
  readonly corsOption?: true;
}

const NOT_READY = 'the CORS module has not started yet';
const OWN_CORS =
  "sets Socket.IO's own cors option, which CorsModule replaces: the polling transport's CORS headers and every handshake follow the gateway's policy (@Cors() on the gateway, or the module defaults). Delete the cors option";
const ADAPTER_CORS =
  "its Socket.IO server was created with a cors option by the WebSocket adapter (a createIOServer override?), which CorsModule replaces: it would answer the transport's preflights with its own policy. Drop cors from the adapter's options";
const UNSEEN =
  "its WebSocket server was created where this module could not see it (not through the WebSocket adapter's create()), so its handshakes would go unchecked. Use WsAdapter or IoAdapter as Nest sets them up, or @Cors(false) on the gateway to leave it unchecked";
const UNGUARDED =
  'its WebSocket server comes from an adapter whose handshakes this module cannot check (it knows ws and Socket.IO servers): use WsAdapter or IoAdapter, or @Cors(false) on the gateway to leave it unchecked';
const VARY_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
/** The methods Engine.IO's long-polling transport uses. */
const POLLING_METHODS = ['GET', 'POST'];

export class HandshakeGate {
  private table: GatewayTable | undefined;
  /** Every server created for a gateway so far, as the gate saw it. */
  readonly servers: GuardedServer[] = [];

  constructor(private readonly log: GateLog) {}

  /** Activates the gate, or swaps in a new table (a live origin update). */
  use(table: GatewayTable): void {
    this.table = table;
  }

  get current(): GatewayTable | undefined {
    return this.table;
  }

  /**
   * What the gateways declare that the gate cannot honour: Socket.IO's own `cors` option (on the
   * gateway, or added by the adapter), which the gate replaces; or a gateway with a policy whose
   * server comes from an adapter the gate cannot check.
   */
  problemsOf(
    gateways: ReadonlyArray<GatewayRecord & { readonly policy: unknown }>,
  ): CorsConfigProblem[] {
    const problems: CorsConfigProblem[] = [];
    for (const gateway of gateways) {
      const place = gatewayPlace(gateway.name);
      const servers = this.servers.filter((s) => s.key === serverKey(gateway.port, gateway.path));
      if (gateway.cors !== undefined) {
        problems.push(configProblem(place, 'gateway-cors-option', OWN_CORS, gateway.cors));
      } else if (servers.some((s) => s.corsOption)) {
        problems.push(configProblem(place, 'gateway-cors-option', ADAPTER_CORS));
      }
      if (gateway.policy !== null && servers.some((s) => s.kind === 'unknown')) {
        problems.push(configProblem(place, 'gateway-unguarded', UNGUARDED));
      }
    }
    return problems;
  }

  /**
   * The gateways with a policy (in the table in force) whose server the gate never saw created,
   * as problems.
   */
  unguarded(): CorsConfigProblem[] {
    const seen = new Set(this.servers.map((s) => s.key));
    return (this.table?.gateways ?? [])
      .filter((g) => g.policy !== null && !seen.has(serverKey(g.port, g.path)))
      .map((g) => configProblem(gatewayPlace(g.name), 'gateway-unguarded', UNSEEN));
  }

  /** Installs the check on a server an adapter just created (see `watchGatewayServers`). */
  readonly attach = (server: object, port: number, options: GatewayServerOptions): void => {
    const key = serverKey(port, options.path);
    const kind = kindOf(server);
    // Engine.IO defaults `cors` to false and installs its own middleware only when it is set.
    const corsOption = kind === 'socket.io' && Boolean((server as IoServerLike).engine.opts?.cors);
    this.servers.push({
      key,
      namespace: options.namespace,
      kind,
      ...(corsOption && { corsOption }),
    });
    if (kind === 'ws') this.guardWs(server as WsServerLike, key);
    else if (kind === 'socket.io') this.guardSocketIo(server as IoServerLike, key);
    else if (kind === 'socket.io namespace') {
      this.guardNamespace(server as IoNamespaceLike, key, options.namespace);
    }
  };

  private guardWs(server: WsServerLike, key: string): void {
    const theirs = server.options.verifyClient;
    server.options.verifyClient = (info, callback) => {
      this.decide(key, undefined, info.req)
        .then((verdict) => {
          if (!verdict.allowed) return callback(false, 403);
          // The gateway's own check (a `verifyClient` option) comes after the origin's.
          if (typeof theirs !== 'function') return callback(true);
          if (theirs.length >= 2) return theirs(info, callback);
          callback(Boolean((theirs as (info: { req: IncomingMessage }) => boolean)(info)));
        })
        .catch(this.failed(callback));
    };
  }

  private guardSocketIo(server: IoServerLike, key: string): void {
    server.engine.use((req, res, next) => {
      void this.transport(key, req, res, next).catch((error: unknown) => {
        this.log.error(`WebSocket handshake check failed: ${String(error)}`);
        refuse(req, res);
      });
    });
    // The main namespace: Socket.IO's `server.use()` is its middleware.
    this.guardNamespace(server, key, undefined);
  }

  private guardNamespace(nsp: IoNamespaceLike, key: string, namespace: unknown): void {
    nsp.use((socket, next) => {
      this.decide(key, namespace, socket.request).then(
        (verdict) => next(verdict.allowed ? undefined : new Error('origin not allowed')),
        () => next(new Error('origin not allowed')),
      );
    });
  }

  /** One HTTP request of Socket.IO's transport: refused, a preflight answered, or decorated. */
  private async transport(
    key: string,
    req: IncomingMessage,
    res: ServerResponse | object,
    next: (error?: unknown) => void,
  ): Promise<void> {
    const table = this.table;
    const request = handshakeRequest(req);
    const verdict =
      table === undefined ? notReady() : await decideTransport(table.groupsAt(key), request);
    if (!verdict.allowed) {
      this.deny(req, key, verdict);
      return refuse(req, res);
    }
    const http = res instanceof ServerResponse ? res : undefined;
    if (http !== undefined && isPreflight(req) && verdict.policy !== null) {
      return this.preflight(req, http, verdict, request);
    }
    const { policy } = verdict;
    if (http !== undefined && policy !== null) {
      beforeHeaders(http, (target) => policy.writeActual(target, verdict.verdict));
    }
    next();
  }

  private async preflight(
    req: IncomingMessage,
    res: ServerResponse,
    verdict: HandshakeVerdict & { allowed: true },
    request: HandshakeRequest,
  ): Promise<void> {
    const answer = await decidePreflight(
      {
        origin: request.origin as string,
        method: String(req.headers['access-control-request-method']),
        headers: joined(req.headers['access-control-request-headers']),
        privateNetwork: req.headers['access-control-request-private-network'] === 'true',
        request: req,
      },
      singlePolicyRoute(verdict.policy!, POLLING_METHODS),
    );
    writePreflightHeaders(res, answer);
    res.statusCode = answer.allowed ? answer.status : 403;
    if (res.statusCode !== 204) res.setHeader('Content-Length', '0');
    res.end();
  }

  /** The verdict of the gateways on one server and namespace (refused until the table is in). */
  private async decide(
    key: string,
    namespace: unknown,
    req: IncomingMessage,
  ): Promise<HandshakeVerdict> {
    const table = this.table;
    if (table === undefined) return notReady();
    const group: HandshakeGroup | undefined = table.group(key, namespace);
    const verdict = await decideHandshake(group, handshakeRequest(req));
    if (!verdict.allowed) this.deny(req, key, verdict);
    return verdict;
  }

  private deny(req: IncomingMessage, key: string, verdict: HandshakeVerdict): void {
    if (verdict.allowed || this.log.denial === undefined) return;
    const origin = String(req.headers.origin)
      .slice(0, 200)
      .replace(/[^\x20-\x7e]/g, '?');
    const where = key.replace(/^0 /, '').trim() || '(default path)';
    this.log.denial(
      `CORS denied WebSocket handshake ${where} from "${origin}" → ${verdict.gateway}: ${verdict.reason} (${verdict.source})`,
    );
  }

  private failed(callback: (ok: boolean, code?: number) => void): (error: unknown) => void {
    return (error) => {
      this.log.error(`WebSocket handshake check failed: ${String(error)}`);
      callback(false, 403);
    };
  }
}

function notReady(): HandshakeVerdict {
  return { allowed: false, reason: NOT_READY, gateway: '(all)', source: 'module' };
}

function handshakeRequest(req: IncomingMessage): HandshakeRequest {
  const origin = req.headers.origin;
  const protocol = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  return {
    origin,
    sameOrigin: origin !== undefined && isSameOrigin(origin, protocol, req.headers.host),
    request: req,
  };
}

function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}

/**
 * 403 to an HTTP request of the transport; to an upgrade (Engine.IO hands middlewares a stand-in
 * response then), the same status on the socket, which is then closed.
 */
function refuse(req: IncomingMessage, res: ServerResponse | object): void {
  if (res instanceof ServerResponse) {
    if (res.headersSent) return void res.destroy();
    res.statusCode = 403;
    appendVary(res, VARY_PREFLIGHT);
    res.setHeader('Content-Length', '0');
    res.end();
    return;
  }
  const socket = req.socket as Socket;
  if (socket.writable) {
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  } else socket.destroy();
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

// ----- the parts of each library the gate uses ----------------------------------------------

type VerifyCallback = (ok: boolean, code?: number) => void;
/** ws calls it with a callback when it declares two parameters, and reads its result otherwise. */
type VerifyClient = (info: { req: IncomingMessage }, callback: VerifyCallback) => boolean | void;

interface WsServerLike {
  handleUpgrade: Function;
  options: { verifyClient?: VerifyClient | null };
}

type EngineMiddleware = (
  req: IncomingMessage,
  res: ServerResponse | object,
  next: (error?: unknown) => void,
) => void;

interface IoNamespaceLike {
  use(fn: (socket: { request: IncomingMessage }, next: (error?: Error) => void) => void): unknown;
}

interface IoServerLike extends IoNamespaceLike {
  engine: { use(fn: EngineMiddleware): void; opts?: { cors?: unknown } };
  of: Function;
}

function kindOf(server: object): GuardedServer['kind'] {
  const s = server as Partial<IoServerLike & WsServerLike & { server: IoServerLike }>;
  if (typeof s.of === 'function' && typeof s.engine?.use === 'function') return 'socket.io';
  if (typeof s.use === 'function' && typeof s.server?.engine?.use === 'function') {
    return 'socket.io namespace';
  }
  if (typeof s.handleUpgrade === 'function' && typeof s.options === 'object') return 'ws';
  return 'unknown';
}
