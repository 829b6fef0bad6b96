/**
 * The one file that knows Nest's routing internals: which routes Nest registers with the HTTP
 * adapter, in which order, with which paths, and which of them Nest passes on (host and version
 * filters). It reuses Nest's own `PathsExplorer` and `RoutePathFactory`, so paths are built by
 * the code that builds them for the router, and the adapter's own version filter. Every Nest path
 * imported here exists in Nest 11 and 12 (`test/routing/nest-routes.spec.ts` runs on both); what
 * only Nest 12 has (the specificity sorter) is loaded only when the application uses it.
 */
import { RequestMethod, VERSION_NEUTRAL, VersioningType } from '@nestjs/common';
import type { Type, VersioningOptions } from '@nestjs/common';
import type { VersionValue } from '@nestjs/common/interfaces/version-options.interface.js';
import {
  HOST_METADATA,
  MODULE_PATH,
  PATH_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants.js';
import { addLeadingSlash } from '@nestjs/common/utils/shared.utils.js';
import type { ApplicationConfig, MetadataScanner, ModulesContainer } from '@nestjs/core';
import { PathsExplorer } from '@nestjs/core/router/paths-explorer.js';
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';
import { pathToRegexp } from 'path-to-regexp';
import type { RouteRecord, RouteRequest } from './route-record.js';

/** The adapter methods the route list needs (optional: not every Nest major has them all). */
export interface RouteAdapter {
  normalizePath?(path: string): string;
  isRouteOrderSensitive?(): boolean;
  getRequestHostname?(request: any): string;
  applyVersionFilter(
    handler: Function,
    version: VersionValue,
    options: VersioningOptions,
  ): Function;
}

/** What `collectNestRoutes` needs; every member can be injected into a provider. */
export interface NestRouteSources {
  modulesContainer: ModulesContainer;
  metadataScanner: MetadataScanner;
  applicationConfig: ApplicationConfig;
  /** `HttpAdapterHost.httpAdapter`. */
  httpAdapter: RouteAdapter;
}

type HostMetadata = string | RegExp | Array<string | RegExp>;
type UnorderedRoute = Omit<RouteRecord, 'order'>;

/**
 * Every route Nest registers with the HTTP adapter, in registration order. Mirrors
 * `RoutesResolver.resolve` and `RouterExplorer.applyCallbackToRouter` (@nestjs/core 12). Call it
 * once the modules are scanned and the global prefix and versioning are set (`configure()`).
 */
export async function collectNestRoutes(sources: NestRouteSources): Promise<RouteRecord[]> {
  const { modulesContainer, applicationConfig, httpAdapter } = sources;
  const routes: UnorderedRoute[] = [];
  // Modules in container (insertion) order, controllers in declaration order, like RoutesResolver.
  for (const { metatype: moduleType, controllers } of modulesContainer.values()) {
    const modulePath = getModulePath(moduleType, modulesContainer.applicationId);
    for (const { metatype, instance } of controllers.values()) {
      // An unresolved wrapper never reaches the router (Nest's init would have failed on it).
      if (metatype && instance) {
        routes.push(...controllerRoutes(sources, metatype as Type<unknown>, instance, modulePath));
      }
    }
  }
  return (await sortLikeNest(routes, applicationConfig, httpAdapter)).map((route, order) => ({
    ...route,
    order,
  }));
}

function controllerRoutes(
  { metadataScanner, applicationConfig, httpAdapter }: NestRouteSources,
  controller: Type<unknown>,
  instance: object,
  modulePath: string | undefined,
): UnorderedRoute[] {
  const versioningOptions = applicationConfig.getVersioning();
  // NestApplication passes the prefix with a leading slash ('' when there is none).
  const globalPrefix = addLeadingSlash(applicationConfig.getGlobalPrefix());
  const acceptsHost = hostFilter(Reflect.getMetadata(HOST_METADATA, controller), httpAdapter);
  // The application's default version applies only to controllers without their own.
  const controllerVersion: VersionValue | undefined = versioningOptions
    ? (Reflect.getMetadata(VERSION_METADATA, controller) ?? versioningOptions.defaultVersion)
    : undefined;
  const ctrlPaths: string | string[] = Reflect.getMetadata(PATH_METADATA, controller);
  const routePathFactory = new RoutePathFactory(applicationConfig);
  const routes: UnorderedRoute[] = [];
  for (const ctrlPath of [ctrlPaths].flat()) {
    for (const definition of new PathsExplorer(metadataScanner).scanForPaths(instance)) {
      const version = definition.version || controllerVersion;
      const filter = unfilteredAll(definition.requestMethod, httpAdapter)
        ? undefined
        : versionFilter(version, versioningOptions, httpAdapter);
      for (const methodPath of definition.path) {
        const paths = routePathFactory.create(
          {
            ctrlPath: addLeadingSlash(ctrlPath),
            methodPath,
            modulePath,
            globalPrefix,
            controllerVersion,
            methodVersion: definition.version,
            versioningOptions,
          },
          definition.requestMethod,
        );
        for (const path of paths) {
          routes.push({
            method: RequestMethod[definition.requestMethod],
            path: httpAdapter.normalizePath?.(path) ?? path,
            controller,
            // `instance[methodName]`: the callback ExecutionContext.getHandler() returns.
            handler: definition.targetCallback,
            name: `${controller.name}.${definition.methodName}`,
            ...(acceptsHost && { acceptsHost }),
            ...filter,
          });
        }
      }
    }
  }
  return routes;
}

/** RouterExplorer.applyHostFilter: the adapter's hostname against path-to-regexp host patterns. */
function hostFilter(
  host: HostMetadata | undefined,
  adapter: RouteAdapter,
): ((req: RouteRequest) => boolean) | undefined {
  if (host === undefined || host === null || (host as unknown) === '') return undefined;
  const patterns = [host].flat().map((h) => (typeof h === 'string' ? pathToRegexp(h).regexp : h));
  return (req) => {
    const hostname = adapter.getRequestHostname?.(req) ?? '';
    return patterns.some((regexp) => regexp.test(hostname));
  };
}

const MATCHED = Symbol('version matched');

/**
 * Header, media-type and custom versioning pass a request for another version on to the next
 * route (RouterExplorer.applyVersionFilter). The adapter's own filter decides, so the answer is
 * Nest's by construction; URI versioning and VERSION_NEUTRAL routes are not filtered.
 */
function versionFilter(
  version: VersionValue | undefined,
  options: VersioningOptions | undefined,
  adapter: RouteAdapter,
): Pick<RouteRecord, 'acceptsVersion' | 'versions'> | undefined {
  if (!version || !options || options.type === VersioningType.URI || version === VERSION_NEUTRAL) {
    return undefined;
  }
  const versions: ReadonlySet<unknown> = new Set([version].flat());
  // Fastify routes by version with a find-my-way constraint (its `applyVersionFilter` only tags
  // the handler): the adapter's constraint strategy derives the request's version.
  const constraint = (adapter as { versionConstraint?: VersionConstraint }).versionConstraint;
  if (constraint !== undefined) {
    return {
      acceptsVersion: (req) => {
        const derived = constraint.deriveConstraint(req) as unknown;
        return Array.isArray(derived)
          ? derived.some((v) => versions.has(v))
          : versions.has(derived);
      },
      versions,
    };
  }
  const filter = adapter.applyVersionFilter(() => MATCHED, version, options) as (
    req: unknown,
    res: unknown,
    next: () => unknown,
  ) => unknown;
  return {
    acceptsVersion: (req) => {
      try {
        return filter(req, undefined, () => undefined) === MATCHED;
      } catch {
        return false; // a custom extractor that throws: Nest's route fails too
      }
    },
    versions,
  };
}

interface VersionConstraint {
  deriveConstraint(req: unknown): unknown;
}

/**
 * Nest 11's Fastify adapter registers an `@All()` route without its version (its `all()` passes
 * no route options; Nest 12's does, and has `addHttpMethod` for the methods it adds first).
 */
function unfilteredAll(method: RequestMethod, adapter: RouteAdapter): boolean {
  const fastify = (adapter as { versionConstraint?: unknown }).versionConstraint !== undefined;
  const nest12 = typeof (adapter as { addHttpMethod?: unknown }).addHttpMethod === 'function';
  return method === RequestMethod.ALL && fastify && !nest12;
}

/** RouterModule stores the module path per application, with an application-independent fallback. */
function getModulePath(moduleType: Type<unknown>, applicationId: string): string | undefined {
  return (
    Reflect.getMetadata(MODULE_PATH + applicationId, moduleType) ??
    Reflect.getMetadata(MODULE_PATH, moduleType)
  );
}

/**
 * With `routeResolutionStrategy: 'specificity'` (Nest 12), Nest registers the routes sorted from
 * the most to the least specific path, on adapters where the order matters (Express). Nest's own
 * sorter does it; Nest 11 has neither the option nor the sorter.
 */
async function sortLikeNest<T extends { path: string }>(
  routes: T[],
  applicationConfig: ApplicationConfig,
  httpAdapter: RouteAdapter,
): Promise<T[]> {
  const strategy = (
    applicationConfig as { getRouteResolutionStrategy?(): string }
  ).getRouteResolutionStrategy?.();
  const isOrderSensitive = httpAdapter.isRouteOrderSensitive?.() ?? true;
  if (strategy !== 'specificity' || !isOrderSensitive) return routes;
  const { RouteSpecificitySorter } = (await import(SORTER)) as {
    RouteSpecificitySorter: { sort<R>(routes: R[]): R[] };
  };
  // The sorter reads nothing but `path` (and keeps ties in their original order).
  return RouteSpecificitySorter.sort(routes);
}

/** Nest 12 only: a variable, so that the package also type-checks against Nest 11. */
const SORTER: string = '@nestjs/core/router/route-specificity-sorter.js';
