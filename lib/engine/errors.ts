/** One configuration problem, with the place it was declared (`module`, `policy "admin"`, `Users.remove`). */
export interface CorsConfigProblem {
  where: string;
  message: string;
}

/** Thrown at boot: lists every problem of the configuration, each with where it was declared. */
export class CorsConfigError extends Error {
  override readonly name = 'CorsConfigError';

  constructor(readonly problems: readonly CorsConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `Invalid CORS configuration (${count}):\n` +
        problems.map((p) => `  - ${p.where}: ${p.message}`).join('\n'),
    );
  }
}

/** Collects problems and warnings while options are compiled. */
export class ProblemList {
  readonly errors: CorsConfigProblem[] = [];
  readonly warnings: CorsConfigProblem[] = [];

  error(where: string, message: string): void {
    this.errors.push({ where, message });
  }

  warn(where: string, message: string): void {
    this.warnings.push({ where, message });
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw new CorsConfigError(this.errors);
  }
}
