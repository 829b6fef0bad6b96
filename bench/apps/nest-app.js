/**
 * Builds the bench's Nest 12 Express app: identical for every variant except CORS.
 *   bare         no CORS
 *   enableCors   app.enableCors(corsOptions)          (the `cors` package, app-level)
 *   nestjs-cors  CorsModule.forRoot(corsOptions) + CorsModule.mountEarly(app) in main.ts
 *                (this library, from the built dist/)
 * Plain JS: decorators are applied as functions, so no compile step and no decorator metadata
 * is needed (the controllers have no constructor dependencies).
 */
import 'reflect-metadata';
import { Controller, Get, Module, Put } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { corsOptions, pathCount } from './config.js';

export const VARIANTS = ['bare', 'enableCors', 'nestjs-cors'];

const DIST = new URL('../../dist/index.js', import.meta.url).href;

/** The library, from the built dist/ (`npm run build`). */
export function loadLibrary() {
  return import(DIST);
}

function decorateMethod(decorator, proto, key) {
  const descriptor = Object.getOwnPropertyDescriptor(proto, key);
  const result = decorator(proto, key, descriptor);
  if (result !== undefined) Object.defineProperty(proto, key, result);
}

/** A distinct handler function per route (Nest keeps route metadata on the function). */
function makeHandler() {
  return function handler() {
    return { ok: true };
  };
}

/** Controllers with `routes` handlers in all (GET and PUT per path), 10 handlers per controller. */
function makeControllers(routes) {
  const paths = pathCount(routes);
  const controllers = [];
  const perController = 5; // paths, so 10 handlers
  for (let first = 0; first < paths; first += perController) {
    const Ctl = class {};
    Object.defineProperty(Ctl, 'name', { value: `Items${first / perController}Controller` });
    for (let i = first; i < Math.min(first + perController, paths); i++) {
      for (const [verb, decorator] of [
        ['get', Get],
        ['put', Put],
      ]) {
        const key = `${verb}${i}`;
        Ctl.prototype[key] = makeHandler();
        decorateMethod(decorator(`items${i}/:id`), Ctl.prototype, key);
      }
    }
    Controller('api')(Ctl);
    controllers.push(Ctl);
  }
  return controllers;
}

/** A fresh root module class for one app. */
export async function makeAppModule({ variant, routes, origins }) {
  const imports = [];
  if (variant === 'nestjs-cors') {
    const { CorsModule } = await loadLibrary();
    imports.push(CorsModule.forRoot(corsOptions(origins)));
  }
  const AppModule = class {};
  Object.defineProperty(AppModule, 'name', { value: 'BenchAppModule' });
  Module({ imports, controllers: makeControllers(routes) })(AppModule);
  return AppModule;
}

/** Creates (not yet initialised) the app of a variant. */
export async function createApp({ variant, routes, origins }) {
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
  const AppModule = await makeAppModule({ variant, routes, origins });
  const app = await NestFactory.create(AppModule, { logger: false });
  // Each CORS variant takes its one line of main.ts: both then sit before the body parsers.
  if (variant === 'enableCors') app.enableCors(corsOptions(origins));
  if (variant === 'nestjs-cors') (await loadLibrary()).CorsModule.mountEarly(app);
  return app;
}
