/**
 * The replay benchmark's workload: an order-0 churn trace on a 4 GiB
 * machine, generated from the seeded PRNG so every run replays the same
 * text. `held` allocations first, then `pairs` times: free a random held tag,
 * allocate a fresh one in its place (held + 2 x pairs operations).
 */
import { seededRng } from '../src/util/rng.js';

export function churnTrace(seed = 42, held = 200_000, pairs = 1_000_000): string {
  const rand = seededRng(seed);
  const tags = new Int32Array(held);
  const lines: string[] = ['machine mem=4G'];
  let next = 0;
  for (let i = 0; i < held; i++) {
    tags[i] = next++;
    lines.push(`alloc t${tags[i]} 0`);
  }
  for (let i = 0; i < pairs; i++) {
    const j = Math.floor(rand() * held);
    lines.push(`free t${tags[j]}`);
    tags[j] = next++;
    lines.push(`alloc t${tags[j]} 0`);
  }
  return lines.join('\n') + '\n';
}
