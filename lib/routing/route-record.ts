import type { Type } from '@nestjs/common';

/** One (HTTP method, full path) pair a Nest handler serves, as the adapter registered it. */
export interface RouteRecord {
  /** Upper-case method name (`GET`, `POST`, …), or `ALL` for `@All()`. */
  method: string;
  /** The full path as registered with the adapter (prefix, version, module and controller paths). */
  path: string;
  /** The controller class. */
  controller: Type<unknown>;
  /** The handler, i.e. the controller prototype's method (what `ExecutionContext.getHandler()` returns). */
  handler: (...args: any[]) => unknown;
  /** `Controller.method`, for messages. */
  name: string;
  /** The handler's method name on the controller. */
  methodName: string;
  /** `@Controller({ host })`, when set. */
  host?: string | RegExp | Array<string | RegExp>;
  /** Registration order (the adapter's order; Express serves the first match). */
  order: number;
}
