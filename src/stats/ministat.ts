/**
 * ministat: FreeBSD's tool for telling whether two sets of measurements
 * differ, as a library for the lab's experiments and as the `pagelab
 * ministat` command.
 *
 * It reproduces ministat's output to the byte: the ASCII plot, the
 * N/Min/Max/Median/Avg/Stddev table and Student's t verdicts, with C's %g
 * formatting (src/stats/printf.ts). Two flavours exist because ministat
 * changed after 2015 and the only reference we can run here is the older one:
 *
 *   'freebsd' (default): today's FreeBSD usr.bin/ministat, the one FreeBSD
 *     developers paste into reviews. The median of an even count is the mean
 *     of the two middle values, a variance that rounding makes negative is
 *     clamped to 0, the relative half-width propagates the uncertainty of
 *     both means, and -q exists.
 *   'debian': ministat 20150715 as packaged by Debian (FreeBSD's 2015 code).
 *     Median is the upper middle value, no clamp (sqrt of a negative prints
 *     -nan), the relative half-width is the absolute one over the baseline
 *     mean, and there is no -q. The golden tests run this flavour against
 *     the real binary.
 */
export * from './ttable.js';
export * from './summary.js';
export * from './dataset.js';
export * from './render.js';
