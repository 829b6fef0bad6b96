/** Small statistics for the bench: medians and spreads. */
export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** (max − min) / median, in percent: the whole range of the measured rounds. */
export function spreadPct(values) {
  if (values.length < 2) return NaN;
  const m = median(values);
  return ((Math.max(...values) - Math.min(...values)) / m) * 100;
}

export function summary(values) {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    spreadPct: spreadPct(values),
    n: values.length,
  };
}
