/** Appending to `Vary` without overwriting what other code set (cors-rules §1.11). */

export interface HeaderTarget {
  setHeader(name: string, value: string): unknown;
  getHeader(name: string): unknown;
  removeHeader(name: string): unknown;
}

/**
 * Appends `fields` (a ", "-joined list) to the response's `Vary`, skipping fields already there.
 * `Vary: *` already covers everything.
 */
export function appendVary(res: HeaderTarget, fields: string): void {
  const current = res.getHeader('Vary');
  if (current === undefined || current === '') {
    res.setHeader('Vary', fields);
    return;
  }
  const existing = Array.isArray(current) ? current.join(', ') : String(current);
  if (existing === fields) return;
  const present = existing
    .toLowerCase()
    .split(',')
    .map((v) => v.trim());
  if (present.includes('*')) return;
  let merged = existing;
  for (const field of fields.split(', ')) {
    if (!present.includes(field.toLowerCase())) merged += `, ${field}`;
  }
  if (merged !== existing) res.setHeader('Vary', merged);
}

/** Does the response's `Vary` already name `field` (case-insensitive) or `*`? */
export function varyIncludes(res: HeaderTarget, field: string): boolean {
  const current = res.getHeader('Vary');
  if (current === undefined) return false;
  const existing = (Array.isArray(current) ? current.join(',') : String(current)).toLowerCase();
  return existing.split(',').some((v) => {
    const t = v.trim();
    return t === '*' || t === field.toLowerCase();
  });
}
