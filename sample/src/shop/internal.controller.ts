import { Controller, Get } from '@nestjs/common';
import { Cors } from '../../../lib/index.js';

@Controller('internal')
export class InternalController {
  /** Scraped by a server, never read by a page: no CORS headers at all. */
  @Get('metrics')
  @Cors(false)
  metrics() {
    return { uptimeSeconds: Math.round(process.uptime()), requestsServed: 42 };
  }
}
