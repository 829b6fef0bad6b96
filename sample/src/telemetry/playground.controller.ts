import { Controller, Get, ParseIntPipe, Query } from '@nestjs/common';
import { CorsService } from '../../../lib/index.js';
import { Activity } from './activity.js';

/**
 * What the playground page reads. No `@Cors()` here: these routes get the module defaults, which
 * allow the playground origin.
 */
@Controller('cors')
export class PlaygroundController {
  constructor(
    private readonly cors: CorsService,
    private readonly activity: Activity,
  ) {}

  /** Every route with its effective CORS policy and where it was declared. */
  @Get('report')
  report() {
    return this.cors.report();
  }

  /** The denials the CORS module logged (context 'Cors'), after sequence number `since`. */
  @Get('denials')
  denials(@Query('since', new ParseIntPipe({ optional: true })) since = 0) {
    return { last: this.activity.last, denials: this.activity.denialsSince(since) };
  }

  /** The requests that reached the server (preflights included), after `since`. */
  @Get('requests')
  requests(@Query('since', new ParseIntPipe({ optional: true })) since = 0) {
    return { last: this.activity.last, requests: this.activity.requestsSince(since) };
  }
}
