import type { Type } from '@nestjs/common';

/** A request as the route filters see it: the adapter's own request object. */
export type RouteRequest = object;

/**
 * One route Nest registers with the HTTP adapter: one (HTTP method, full path) of one handler of
 * one controller class. A handler function can serve several routes (path arrays, controller
 * inheritance, URI versions); each is its own record.
 */
export interface RouteRecord {
  /** Upper-case method name (`GET`, `POST`, …), or `ALL` for `@All()`. */
  readonly method: string;
  /** The full path as registered with the adapter (prefix, version, module and controller paths). */
  readonly path: string;
  /** The controller class (what `ExecutionContext.getClass()` returns). */
  readonly controller: Type<unknown>;
  /** The prototype method (what `ExecutionContext.getHandler()` returns). */
  readonly handler: (...args: any[]) => unknown;
  /** `Controller.method`, for messages. */
  readonly name: string;
  /** Registration order: the order in which the router tries the routes. */
  readonly order: number;
  /**
   * `@Controller({ host })`: does the request's host select this route? Absent: any host. Nest
   * passes a request for another host on to the next matching route.
   */
  readonly acceptsHost?: (req: RouteRequest) => boolean;
  /**
   * Header, media-type or custom versioning: does the request's version select this route?
   * Absent: the route is not version-filtered. A preflight carries no version.
   */
  readonly acceptsVersion?: (req: RouteRequest) => boolean;
  /**
   * With `acceptsVersion`: the version values the route accepts (`VERSION_NEUTRAL`: a request
   * without a version). A route accepts a request iff the request's version is one of them, so a
   * route whose versions earlier routes at the same path all accept can never run.
   */
  readonly versions?: ReadonlySet<unknown>;
}
