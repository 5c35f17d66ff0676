/**
 * The calibration profiles, by name. One file per profile; each constant
 * says where it comes from (see src/sim/cost.ts).
 */
import { PagelabError } from '../../errors.js';
import { checkProfile, type CostProfile } from '../cost.js';
import { firecrackerAmd64_2023 } from './firecracker-amd64-2023.js';
import { linuxPadata2020 } from './linux-padata-2020.js';
import { linuxPgzero2020 } from './linux-pgzero-2020.js';
import { bhyveHostWire2024 } from './bhyve-host-wire-2024.js';
import { checkWireProfile, type WireProfile } from '../wire-cost.js';

export const PROFILES: readonly CostProfile[] = [firecrackerAmd64_2023, linuxPadata2020, linuxPgzero2020];
export const PROFILE_NAMES: readonly string[] = PROFILES.map((p) => p.name);
export const DEFAULT_FREEBSD_PROFILE = firecrackerAmd64_2023.name;

for (const p of PROFILES) checkProfile(p);

/** Wiring profiles (the wire experiment), priced by sim/wire-cost.ts. */
export const WIRE_PROFILES: readonly WireProfile[] = [bhyveHostWire2024];
for (const p of WIRE_PROFILES) checkWireProfile(p);

/*
 * The profile called `name`. `os`, when given, restricts the choice (the
 * FreeBSD boot model cannot run on a Linux profile).
 * Guarantees: a profile, or EUSAGE naming the known ones.
 */
export function getProfile(name: string, os?: CostProfile['os']): CostProfile {
  const p = PROFILES.find((q) => q.name === name);
  if (p === undefined) throw new PagelabError('EUSAGE', `unknown profile "${name}" (known: ${PROFILE_NAMES.join(', ')})`);
  if (os !== undefined && p.os !== os) {
    throw new PagelabError('EUSAGE', `profile "${name}" describes ${p.os}; this model needs a ${os} profile (${PROFILES.filter((q) => q.os === os).map((q) => q.name).join(', ')})`);
  }
  return p;
}

export { firecrackerAmd64_2023, linuxPadata2020, linuxPgzero2020, bhyveHostWire2024 };
