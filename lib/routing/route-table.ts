import { RequestMethod, type HttpServer, type Type } from '@nestjs/common';
import {
  GUARDS_METADATA,
  HOST_METADATA,
  MODULE_PATH,
  PATH_METADATA,
  VERSION_METADATA,
  addLeadingSlash,
} from '@nestjs/common/internal';
import type { ApplicationConfig, MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { ResolvedRoute } from '@nestjs/core/router/interfaces/resolved-route.interface.js';
import { PathsExplorer } from '@nestjs/core/router/paths-explorer.js';
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';
import { RouteSpecificitySorter } from '@nestjs/core/router/route-specificity-sorter.js';
import type { RouteRecord } from './route-record.js';

/** What `buildRouteTable` needs; every member can be injected into a provider. */
export interface RouteTableSources {
  modulesContainer: ModulesContainer;
  metadataScanner: MetadataScanner;
  applicationConfig: ApplicationConfig;
  /** `HttpAdapterHost.httpAdapter`. */
  httpAdapter: Pick<HttpServer, 'normalizePath' | 'isRouteOrderSensitive'>;
}

/**
 * Lists every route Nest registers with the HTTP adapter, in registration order, with the
 * paths the adapter gets. Mirrors `NestApplication.registerRouter`, `RoutesResolver.resolve`
 * and `RouterExplorer.applyCallbackToRouter` (@nestjs/core 12), reusing Nest's own
 * `PathsExplorer` and `RoutePathFactory` so the paths are built by the same code.
 * Call it once the application is initialised (or at least once its modules are scanned and
 * the global prefix and versioning are set).
 */
export function buildRouteTable({
  modulesContainer,
  metadataScanner,
  applicationConfig,
  httpAdapter,
}: RouteTableSources): RouteRecord[] {
  const pathsExplorer = new PathsExplorer(metadataScanner);
  const routePathFactory = new RoutePathFactory(applicationConfig);
  // NestApplication passes the prefix with a leading slash ('' when there is none).
  const globalPrefix = addLeadingSlash(applicationConfig.getGlobalPrefix());
  const versioningOptions = applicationConfig.getVersioning();
  const routes: Omit<RouteRecord, 'order'>[] = [];

  // Modules in container (insertion) order, controllers in declaration order, like RoutesResolver.
  for (const { metatype: moduleType, controllers } of modulesContainer.values()) {
    const modulePath = getModulePath(moduleType, modulesContainer.applicationId);
    for (const { metatype, instance } of controllers.values()) {
      // An unresolved wrapper never reaches the router (Nest's init would have failed on it).
      if (!metatype || !instance) {
        continue;
      }
      const controller = metatype as Type<unknown>;
      const host: RouteRecord['host'] = Reflect.getMetadata(HOST_METADATA, controller);
      // The application's default version applies only to controllers without their own.
      const controllerVersion = versioningOptions
        ? (Reflect.getMetadata(VERSION_METADATA, controller) ?? versioningOptions.defaultVersion)
        : undefined;
      const ctrlPaths: string | string[] = Reflect.getMetadata(PATH_METADATA, controller);

      for (const ctrlPath of [ctrlPaths].flat()) {
        for (const definition of pathsExplorer.scanForPaths(instance)) {
          for (const methodPath of definition.path) {
            // Only URI versioning changes the path; other types keep one path for all versions.
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
                methodName: definition.methodName,
                host,
              });
            }
          }
        }
      }
    }
  }

  return sortLikeNest(routes, applicationConfig, httpAdapter).map((route, order) => ({
    ...route,
    order,
  }));
}

/** RouterModule stores the module path per application, with an application-independent fallback. */
function getModulePath(moduleType: Type<unknown>, applicationId: string): string | undefined {
  return (
    Reflect.getMetadata(MODULE_PATH + applicationId, moduleType) ??
    Reflect.getMetadata(MODULE_PATH, moduleType)
  );
}

/**
 * With `routeResolutionStrategy: 'specificity'`, Nest registers the routes sorted from the most
 * to the least specific path, on adapters where the order matters (Express).
 */
function sortLikeNest<T extends { path: string }>(
  routes: T[],
  applicationConfig: ApplicationConfig,
  httpAdapter: RouteTableSources['httpAdapter'],
): T[] {
  const isOrderSensitive = httpAdapter.isRouteOrderSensitive?.() ?? true;
  if (applicationConfig.getRouteResolutionStrategy() !== 'specificity' || !isOrderSensitive) {
    return routes;
  }
  // The sorter reads nothing but `path` (and keeps ties in their original order).
  return RouteSpecificitySorter.sort(routes as unknown as ResolvedRoute[]) as unknown as T[];
}

/**
 * Makes `guard` (or nothing) the CORS guard of one handler, through the metadata `@UseGuards()`
 * writes. Nest reads it when the route is registered, right after `configure()`; a guard put
 * there by an earlier application of the same controller (tests build many) is replaced, not
 * stacked: `isCorsGuard` recognises it.
 */
export function setHandlerGuard(
  handler: Function,
  guard: object | undefined,
  isCorsGuard: (candidate: unknown) => boolean,
): void {
  const current: unknown[] = Reflect.getMetadata(GUARDS_METADATA, handler) ?? [];
  const others = current.filter((g) => !isCorsGuard(g));
  const next = guard === undefined ? others : [...others, guard];
  if (next.length !== current.length || next.some((g, i) => g !== current[i])) {
    Reflect.defineMetadata(GUARDS_METADATA, next, handler);
  }
}
