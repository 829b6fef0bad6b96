import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { CorsModule } from '../../lib/index.js';
import { AccountController, Sessions } from './shop/account.controller.js';
import { AdminController } from './shop/admin.controller.js';
import { CartController } from './shop/cart.controller.js';
import { CatalogController } from './shop/catalog.controller.js';
import { InternalController } from './shop/internal.controller.js';
import { AdminLiveGateway, CartLiveGateway } from './shop/live.gateways.js';
import { BearerAuthGuard, OrdersController } from './shop/orders.controller.js';
import { Activity } from './telemetry/activity.js';
import { PlaygroundController } from './telemetry/playground.controller.js';

export interface AppSettings {
  /** Default of CORS_ORIGINS: the playground's origin. */
  playgroundOrigin: string;
  /** The .env file to read, or false for none (tests). */
  envFile: string | false;
}

@Controller()
class RootController {
  @Get()
  index() {
    return { service: 'nestjs-cors sample shop API', policies: '/cors/report' };
  }
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

@Module({})
export class AppModule {
  static forRoot(settings: AppSettings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          envFilePath: settings.envFile || undefined,
          ignoreEnvFile: settings.envFile === false,
          // Defaults, overridden by sample/.env and then by the environment.
          validate: (env) => ({
            CORS_ORIGINS: settings.playgroundOrigin,
            ADMIN_ORIGINS: 'https://admin.example.com',
            CORS_DEBUG: 'true',
            ...env,
          }),
        }),
        CorsModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            // Module defaults: every route without its own @Cors() gets these.
            origin: list(config.getOrThrow<string>('CORS_ORIGINS')),
            // @Cors('admin')
            policies: {
              admin: {
                origin: list(config.getOrThrow<string>('ADMIN_ORIGINS')),
                credentials: true,
              },
            },
            // Log each denial with its reason (the playground shows them).
            debug: config.get('CORS_DEBUG') === 'true',
          }),
        }),
      ],
      controllers: [
        RootController,
        CatalogController,
        AccountController,
        AdminController,
        InternalController,
        OrdersController,
        CartController,
        PlaygroundController,
      ],
      // The WebSocket gateways get their policies like controllers (module defaults, @Cors()).
      providers: [Activity, Sessions, BearerAuthGuard, CartLiveGateway, AdminLiveGateway],
    };
  }
}
