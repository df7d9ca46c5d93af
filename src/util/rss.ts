/** @module Peak resident set size of this process, as the host measures it (see `host.ts`). */
import { host } from "./host.ts";

/** Peak RSS in MB, measured (not estimated); NaN where the runtime cannot tell (Workers, browsers). */
export function peakRssMb(): number {
  return host().peakRssMb();
}
