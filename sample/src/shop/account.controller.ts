import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Post,
  Req,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Cors } from '../../../lib/index.js';

@Injectable()
export class Sessions {
  private readonly users = new Map<string, string>();

  open(email: string): string {
    const sid = randomUUID();
    this.users.set(sid, email);
    return sid;
  }

  find(sid: string | undefined): string | undefined {
    return sid === undefined ? undefined : this.users.get(sid);
  }
}

/** What this controller reads of the request: Express's and Fastify's requests both have it. */
interface WithHeaders {
  headers: IncomingHttpHeaders;
}

/** What it calls on the response: `header()` is on Express's response and on Fastify's reply. */
interface SetsHeaders {
  header(name: string, value: string): unknown;
}

/** Cookies: credentials on, origins from the module (CORS_ORIGINS), never '*'. */
@Controller('account')
@Cors({ credentials: true })
export class AccountController {
  constructor(private readonly sessions: Sessions) {}

  @Post('login')
  @HttpCode(200)
  login(@Body() body: { email?: string }, @Res({ passthrough: true }) res: SetsHeaders) {
    const email = typeof body?.email === 'string' ? body.email : 'ada@example.com';
    // The playground (127.0.0.1) and the API (localhost) are different sites, so this is a
    // third-party cookie: it needs SameSite=None + Secure (http://localhost counts as secure), and
    // Partitioned, or a browser that blocks third-party cookies drops it (Chromium does by default).
    // Written by hand: Express's `res.cookie()` does not exist on Fastify (without @fastify/cookie).
    const sid = encodeURIComponent(this.sessions.open(email));
    res.header('Set-Cookie', `sid=${sid}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned`);
    return { email };
  }

  @Get('me')
  me(@Req() req: WithHeaders) {
    const email = this.sessions.find(readCookie(req, 'sid'));
    if (email === undefined) throw new UnauthorizedException('No session cookie: log in first');
    return { email };
  }
}

/** A cookie of the request (`sid`), or undefined. Also read by the live gateways. */
export function readCookie(req: WithHeaders, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}
