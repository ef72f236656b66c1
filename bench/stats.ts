/** Summaries of repeated benchmark figures, shared by the A/B comparisons. */
import { seededRandom } from '../scripts/demo-traffic.js';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

export function geometricMean(xs: readonly number[]): number {
  return Math.exp(xs.reduce((sum, x) => sum + Math.log(x), 0) / xs.length);
}

/**
 * A percentile bootstrap interval of the geometric mean of ratios: resampled with a fixed seed,
 * so the same figures give the same interval.
 */
export function bootstrapGeometricMean(
  ratios: readonly number[],
  confidence = 0.9,
  resamples = 10_000,
): { low: number; high: number } {
  const random = seededRandom(13);
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const sample = ratios.map(() => ratios[Math.floor(random() * ratios.length)] as number);
    means.push(geometricMean(sample));
  }
  means.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return {
    low: means[Math.floor(tail * resamples)] as number,
    high: means[Math.min(resamples - 1, Math.ceil((1 - tail) * resamples) - 1)] as number,
  };
}
