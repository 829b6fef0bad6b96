import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CorsModuleOptions } from './interfaces/cors-options.interface.js';

export const {
  ConfigurableModuleClass: CorsConfigurableModule,
  MODULE_OPTIONS_TOKEN: CORS_MODULE_OPTIONS,
  OPTIONS_TYPE: CORS_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<CorsModuleOptions>({ moduleName: 'Cors' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createCorsOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** What a `useClass` / `useExisting` options factory implements. */
export interface CorsOptionsFactory {
  createCorsOptions(): CorsModuleOptions | Promise<CorsModuleOptions>;
}
