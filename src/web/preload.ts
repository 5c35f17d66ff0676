/**
 * What the server (`pagelab web`) or `pagelab replay --html` embeds in the
 * page, as JSON in <script id="pagelab-preload">.
 */
export interface Preload {
  trace?: { name: string; text: string };
  /** A memory map as JSON (memoryMapToJson): replaces the trace's machine. */
  machine?: string;
  /** -o name=value options, applied after the trace's `set` lines. */
  overrides?: string[];
  examples?: Array<{ name: string; text: string }>;
  /** Lab reports to link: label and URL. */
  reports?: Array<{ label: string; href: string }>;
}
