import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { Cors } from '../../../lib/index.js';
import { readCookie, Sessions } from './account.controller.js';

/**
 * Live updates over WebSocket (`WsAdapter`, chosen in sample.ts; plain `new WebSocket()` in the
 * page). Browsers apply no CORS to WebSockets: any page on any site may open one, and the browser
 * sends the user's cookies with the handshake. The CORS module checks the handshake's `Origin`
 * against the gateway's policy, the same policies as the HTTP routes: a refused origin gets a 403
 * to the upgrade and the gateway never runs.
 */

/** Who each connection is: the session cookie the browser sent with the handshake. */
abstract class LiveGateway implements OnGatewayConnection {
  /** How many connections reached gateway code: the browser tests check that refused ones did not. */
  connections = 0;
  private readonly who = new WeakMap<object, string | null>();

  constructor(private readonly sessions: Sessions) {}

  handleConnection(client: object, request: IncomingMessage): void {
    this.connections++;
    this.who.set(client, this.sessions.find(readCookie(request, 'sid')) ?? null);
  }

  /** `{"event":"hello","data":…}` → `{"event":"hello","data":{"you":…,"said":…}}`. */
  @SubscribeMessage('hello')
  hello(@ConnectedSocket() client: object, @MessageBody() said: unknown) {
    return { event: 'hello', data: { you: this.who.get(client) ?? null, said } };
  }
}

/** Cart updates. No `@Cors()`: the module defaults (CORS_ORIGINS), like the HTTP routes. */
@WebSocketGateway({ path: '/live/cart' })
export class CartLiveGateway extends LiveGateway {
  constructor(sessions: Sessions) {
    super(sessions);
  }
}

/** The admin activity feed: the named policy 'admin' (ADMIN_ORIGINS), as AdminController. */
@WebSocketGateway({ path: '/live/admin' })
@Cors('admin')
export class AdminLiveGateway extends LiveGateway {
  constructor(sessions: Sessions) {
    super(sessions);
  }
}
