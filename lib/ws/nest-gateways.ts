/**
 * The one file that knows Nest's WebSocket internals: which classes are gateways, on which port,
 * path and namespace (the metadata `@WebSocketGateway()` writes, read, never changed), and the
 * moment their servers are created (`adapter.create()`, which Nest's socket module calls for
 * every gateway through `ApplicationConfig.getIoAdapter()`, during `init()`, before any
 * lifecycle hook). `@nestjs/websockets` is an optional peer: without it there are no gateways.
 */
import type { ApplicationConfig, ModulesContainer } from '@nestjs/core';

/** What `@WebSocketGateway(port?, options?)` declared for one class. */
export interface GatewayRecord {
  readonly gateway: Function;
  readonly name: string;
  readonly port: number;
  readonly path: string | undefined;
  readonly namespace: unknown;
  /** Socket.IO's own `cors` option, when the gateway sets one. */
  readonly cors: unknown;
}

/** Called with every server (or Socket.IO namespace) an adapter creates for a gateway. */
export type ServerCreated = (server: object, port: number, options: GatewayServerOptions) => void;

export interface GatewayServerOptions {
  readonly path?: string;
  readonly namespace?: unknown;
  readonly [option: string]: unknown;
}

interface WebSocketAdapterLike {
  create(port: number, options?: GatewayServerOptions): object;
}

const WATCHED = Symbol('nestjs-cors.watched-adapter');

/**
 * Calls `onCreated` with every server the application's WebSocket adapter creates from now on,
 * whichever adapter the app chooses (`app.useWebSocketAdapter(...)` runs after this, or Nest
 * makes its default `IoAdapter`). Nest reads the adapter from the application config each time
 * it creates a gateway server; the adapter returned is the app's own object, its `create` seen
 * through once. The application config lives as long as the app: nothing to undo.
 */
export function watchGatewayServers(config: ApplicationConfig, onCreated: ServerCreated): void {
  const ownConfig = config as ApplicationConfig & { [WATCHED]?: true };
  if (ownConfig[WATCHED]) return;
  ownConfig[WATCHED] = true;
  const getIoAdapter = config.getIoAdapter;
  Object.defineProperty(config, 'getIoAdapter', {
    configurable: true,
    value: function (this: ApplicationConfig) {
      const adapter = getIoAdapter.call(this) as WebSocketAdapterLike | null | undefined;
      if (adapter) watchAdapter(adapter, onCreated);
      return adapter;
    },
  });
}

function watchAdapter(adapter: WebSocketAdapterLike, onCreated: ServerCreated): void {
  const own = adapter as WebSocketAdapterLike & { [WATCHED]?: true };
  if (own[WATCHED] || typeof adapter.create !== 'function') return;
  const create = adapter.create;
  try {
    Object.defineProperty(adapter, 'create', {
      configurable: true,
      writable: true,
      value: function (this: WebSocketAdapterLike, port: number, options?: GatewayServerOptions) {
        const server = create.call(this, port, options);
        if (server !== null && typeof server === 'object') onCreated(server, port, options ?? {});
        return server;
      },
    });
    own[WATCHED] = true;
  } catch {
    // A sealed adapter: its servers go unseen, and the boot check refuses the gateways.
  }
}

interface GatewayMetadataKeys {
  GATEWAY_METADATA: string;
  GATEWAY_OPTIONS: string;
  PORT_METADATA: string;
}

/** The gateway classes of the application, in module order. */
export async function collectGateways(modules: ModulesContainer): Promise<GatewayRecord[]> {
  const keys = await metadataKeys();
  if (keys === undefined) return [];
  const gateways: GatewayRecord[] = [];
  const seen = new Set<Function>();
  for (const { providers } of modules.values()) {
    for (const { metatype, isNotMetatype } of providers.values()) {
      if (typeof metatype !== 'function' || isNotMetatype || seen.has(metatype)) continue;
      if (!Reflect.getMetadata(keys.GATEWAY_METADATA, metatype)) continue;
      seen.add(metatype);
      const options = (Reflect.getMetadata(keys.GATEWAY_OPTIONS, metatype) ?? {}) as Record<
        string,
        unknown
      >;
      gateways.push({
        gateway: metatype,
        name: metatype.name,
        port: (Reflect.getMetadata(keys.PORT_METADATA, metatype) as number | undefined) || 0,
        path: typeof options.path === 'string' ? options.path : undefined,
        namespace: options.namespace,
        cors: options.cors,
      });
    }
  }
  return gateways;
}

async function metadataKeys(): Promise<GatewayMetadataKeys | undefined> {
  try {
    return (await import('@nestjs/websockets/constants.js')) as GatewayMetadataKeys;
  } catch {
    return undefined; // @nestjs/websockets is not installed: no gateway can exist
  }
}
