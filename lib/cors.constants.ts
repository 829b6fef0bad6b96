/** Metadata key of `@Cors()`. */
export const CORS_METADATA = 'nestjs-cors:policy';
